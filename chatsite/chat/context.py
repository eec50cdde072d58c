from django.conf import settings


def site(request):
    return {"emulated": settings.GEMINI_EMULATED, "allow_signup": settings.ALLOW_SIGNUP}
