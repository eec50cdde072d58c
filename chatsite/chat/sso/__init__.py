"""Single sign-on with OpenID Connect, on mozilla-django-oidc: discovery (endpoints and keys from
OIDC_ISSUER), the backend that verifies the ID token and finds or makes the person by the
provider's `sub`, and the views around the library's (start, callback, sign-out)."""
