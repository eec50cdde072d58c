"""Log hygiene: whatever a log line holds, the API key (or the SSO client secret) never leaves
the process in it."""

import logging

from django.conf import settings


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        known = (settings.GEMINI_API_KEY, settings.SECRET_KEY, settings.OIDC_RP_CLIENT_SECRET)
        secrets = [s for s in known if len(s) >= 8]
        if not secrets:
            return True
        message = record.getMessage()
        cleaned = message
        for secret in secrets:
            cleaned = cleaned.replace(secret, "[redacted]")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            for secret in secrets:
                record.exc_text = record.exc_text.replace(secret, "[redacted]")
        return True
