"""Offline answers in the person's language: the app adds "Answer in Hebrew unless asked
otherwise." to the system instruction (chatsite/chat/language.py); the emulator honours it with
a short fixed reply in that language, so the whole path is visible without the real API."""

import re

# By the language's English name, as the instruction names it.
REPLIES = {
    "russian": (
        "Отвечаю по-русски, как вы просили.",
        "Это короткий ответ встроенного эмулятора: настоящая модель Gemini не подключена.",
        "Вы написали:",
    ),
    "hebrew": (
        "אני עונה בעברית, כפי שביקשת.",
        "זו תשובה קצרה של האמולטור המובנה: מודל Gemini האמיתי אינו מחובר.",
        "כתבת:",
    ),
    "vietnamese": (
        "Tôi trả lời bằng tiếng Việt như bạn yêu cầu.",
        "Đây là câu trả lời ngắn của trình giả lập tích hợp: "
        "mô hình Gemini thật chưa được kết nối.",
        "Bạn đã viết:",
    ),
    "persian": (
        "همان‌طور که خواستید، به فارسی پاسخ می‌دهم.",
        "این پاسخ کوتاهِ شبیه‌ساز داخلی است: مدل واقعی Gemini متصل نیست.",
        "شما نوشتید:",
    ),
    "italian": (
        "Rispondo in italiano, come hai chiesto.",
        "Questa è una breve risposta dell'emulatore integrato: il vero modello Gemini non è "
        "collegato.",
        "Hai scritto:",
    ),
}
ASKED = re.compile(r"\banswer in (\w+)", re.IGNORECASE)


def requested(system_instruction) -> str | None:
    """The language an "Answer in <Language>…" line asks for, when the emulator speaks it."""
    if not isinstance(system_instruction, str):
        return None
    match = ASKED.search(system_instruction)
    name = match.group(1).lower() if match else ""
    return name if name in REPLIES else None


def reply(language: str, said: str) -> str:
    first, second, you_wrote = REPLIES[language]
    text = f"{first} {second}"
    return f"{text}\n\n{you_wrote} {said}" if said else text  # `said` comes quoted
