from django.conf import settings


def site(request):
    return {"emulated": settings.GEMINI_EMULATED, "allow_signup": settings.ALLOW_SIGNUP}


def preferences(request):
    """The signed-in person's account (set by AccountLanguageMiddleware) and its theme, which
    base.html puts on <html data-theme>."""
    account = getattr(request, "account", None)
    return {"account": account, "theme": account.theme if account else "system"}
