"""Files people attach to a message: checked, stored under their SHA-256, sent inline.

- The browser's Content-Type is never trusted. A file's name (its extension) says what it claims
  to be, and its bytes must agree: magic-byte sniffing (`filetype`), a look inside ZIP-based
  Office files, and strict UTF-8 for text. A file with no extension is what its bytes are.
- Every file is checked before any is stored: one bad file and nothing is saved.
- Files live in Django's default storage under `attachments/<owner>/<sha[:2]>/<sha>`; the same
  bytes uploaded again by the same person are stored once (one row per owner and hash).
- `Turn.user_input` keeps references, never base64:
  `{"type": kind, "mime_type", "attachment": sha256, "name", "size"}`. The request to the API
  gets the bytes inline (`data`), built when the turn is sent (`inline_input`), and the API's
  echo of them is turned back into references before steps are saved (`strip_echo`).
- The API's document type reads PDF, CSV and Office files only. Plain-text files (.txt, .md,
  .json, source code) are sent as a `text` block instead: a line naming the file, then its text.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import re
import unicodedata
import zipfile
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext, gettext_noop, ngettext

from .models import Attachment

MiB = 1024 * 1024
DEFAULT_MAX_BYTES = 20 * MiB
DEFAULT_MAX_FILES = 10
DEFAULT_MAX_TOTAL_BYTES = 40 * MiB
MAX_NAME_CHARS = 200
SNIFF_BYTES = 64 * 1024
# Keys of ours in a stored block; the API never sees them.
REF_KEYS = ("attachment", "name", "size")
KINDS_TEXT = gettext_noop("images, audio, video, PDFs, Office documents, CSV and text files")


class AttachmentError(ValueError):
    """A file we will not store or send; the message says which and why, for the person."""


def max_bytes() -> int:
    return int(getattr(settings, "ATTACHMENT_MAX_BYTES", DEFAULT_MAX_BYTES))


def max_files() -> int:
    return int(getattr(settings, "ATTACHMENT_MAX_FILES", DEFAULT_MAX_FILES))


def max_total_bytes() -> int:
    return int(getattr(settings, "ATTACHMENT_MAX_TOTAL_BYTES", DEFAULT_MAX_TOTAL_BYTES))


# --- What a file may be ---------------------------------------------------------------------


@dataclass(frozen=True)
class FileType:
    mime: str  # what the API is told (its own MIME names, §5.1)
    kind: str  # image, audio, video, document
    label: str  # "a PNG image", for messages
    sniffed: frozenset[str] = frozenset()  # what `filetype` may call these bytes
    check: str = "sniff"  # how the bytes are verified: sniff, iso, text, ooxml, odf, ole
    part: str = ""  # ooxml: the folder the ZIP must hold (word/, xl/, ppt/)

    @property
    def as_text(self) -> bool:
        """Sent as a `text` block: the API has no document type for it."""
        return self.check == "text" and self.mime not in DOCUMENT_MIMES


def _t(mime, kind, label, *sniffed, check="sniff", part=""):
    return FileType(mime, kind, label, frozenset(sniffed or {mime}), check, part)


DOCUMENT_MIMES = {"application/pdf", "text/csv"}
_ISO = ("video/mp4", "video/x-m4v", "video/quicktime", "video/3gpp", "audio/mp4")
_WORD = "application/vnd.openxmlformats-officedocument.wordprocessingml"
_ODF = "application/vnd.oasis.opendocument"

JPEG = _t("image/jpeg", "image", "a JPEG image")
TIFF = _t("image/tiff", "image", "a TIFF image")
HEIC = _t("image/heic", "image", "a HEIC image", check="heif")
HEIF = _t("image/heif", "image", "a HEIF image", "image/heic", check="heif")
AIFF = _t("audio/aiff", "audio", "an AIFF audio file", "audio/x-aiff")
OGG = _t("audio/ogg", "audio", "an Ogg audio file")
MPEG = _t("video/mpeg", "video", "an MPEG video")
TEXT = _t("text/plain", "document", "a text file", check="text")
MARKDOWN = _t("text/markdown", "document", "a Markdown file", check="text")

# Extension → type: the §5.1 image / audio / video / document types, plus text files.
TYPES: dict[str, FileType] = {
    "png": _t("image/png", "image", "a PNG image", "image/png", "image/apng"),
    "jpg": JPEG, "jpeg": JPEG, "jpe": JPEG, "jfif": JPEG,
    "webp": _t("image/webp", "image", "a WebP image"),
    "gif": _t("image/gif", "image", "a GIF image"),
    "bmp": _t("image/bmp", "image", "a BMP image"),
    "tif": TIFF, "tiff": TIFF,
    "heic": HEIC, "heif": HEIF,
    "wav": _t("audio/wav", "audio", "a WAV audio file", "audio/x-wav"),
    "mp3": _t("audio/mp3", "audio", "an MP3 audio file", "audio/mpeg"),
    "aif": AIFF, "aiff": AIFF,
    "aac": _t("audio/aac", "audio", "an AAC audio file"),
    "ogg": OGG, "oga": OGG,
    "opus": _t("audio/opus", "audio", "an Opus audio file", "audio/ogg"),
    "flac": _t("audio/flac", "audio", "a FLAC audio file", "audio/x-flac"),
    "m4a": _t("audio/m4a", "audio", "an M4A audio file", *_ISO, check="iso"),
    "weba": _t("audio/webm", "audio", "a WebM audio file", "video/webm", "video/x-matroska"),
    "mp4": _t("video/mp4", "video", "an MP4 video", *_ISO, check="iso"),
    "mov": _t("video/mov", "video", "a QuickTime video", *_ISO, check="iso"),
    "3gp": _t("video/3gpp", "video", "a 3GP video", *_ISO, check="iso"),
    "mpeg": MPEG, "mpg": MPEG,
    "avi": _t("video/avi", "video", "an AVI video", "video/x-msvideo"),
    "flv": _t("video/x-flv", "video", "a Flash video"),
    "webm": _t("video/webm", "video", "a WebM video", "video/webm", "video/x-matroska"),
    "wmv": _t("video/wmv", "video", "a Windows Media video", "video/x-ms-wmv"),
    "pdf": _t("application/pdf", "document", "a PDF"),
    "csv": _t("text/csv", "document", "a CSV file", check="text"),
    "docx": _t(f"{_WORD}.document", "document", "a Word document", check="ooxml", part="word/"),
    "dotx": _t(f"{_WORD}.template", "document", "a Word template", f"{_WORD}.document",
               check="ooxml", part="word/"),
    "xlsx": _t("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document",
               "an Excel spreadsheet", check="ooxml", part="xl/"),
    "pptx": _t("application/vnd.openxmlformats-officedocument.presentationml.presentation",
               "document", "a PowerPoint presentation", check="ooxml", part="ppt/"),
    "doc": _t("application/msword", "document", "a Word 97–2003 document", check="ole"),
    "xls": _t("application/vnd.ms-excel", "document", "an Excel 97–2003 spreadsheet",
              check="ole"),
    "ppt": _t("application/vnd.ms-powerpoint", "document", "a PowerPoint 97–2003 presentation",
              check="ole"),
    "odt": _t(f"{_ODF}.text", "document", "an OpenDocument text", check="odf"),
    "ods": _t(f"{_ODF}.spreadsheet", "document", "an OpenDocument spreadsheet", check="odf"),
    "odp": _t(f"{_ODF}.presentation", "document", "an OpenDocument presentation", check="odf"),
    "txt": TEXT, "text": TEXT, "log": TEXT,
    "md": MARKDOWN, "markdown": MARKDOWN,
    "json": _t("application/json", "document", "a JSON file", check="text"),
    **dict.fromkeys(
        ("py", "js", "ts", "html", "htm", "css", "xml", "yaml", "yml", "toml", "ini", "sql",
         "sh", "c", "h", "cpp", "java", "go", "rs", "rb"),
        _t("text/plain", "document", "a text file", check="text"),
    ),
}  # fmt: skip
TEXT_MIMES = {t.mime for t in TYPES.values() if t.as_text}
# For the composer's file picker and its checks.
ACCEPT = ",".join(f".{ext}" for ext in TYPES)

# What sniffed bytes look like, for "it looks like …".
_LOOKS_LIKE = {
    "application/zip": "a ZIP archive",
    "application/x-msdownload": "a Windows program",
    "application/x-executable": "a Linux program",
    "application/gzip": "a gzip archive",
    "application/x-tar": "a tar archive",
    "application/x-rar-compressed": "a RAR archive",
    "application/x-7z-compressed": "a 7-Zip archive",
    "application/x-sqlite3": "an SQLite database",
    "application/epub+zip": "an EPUB book",
    "application/rtf": "an RTF document",
    "application/wasm": "a WebAssembly module",
    "application/x-shockwave-flash": "a Flash file",
    "image/avif": "an AVIF image",
    "image/x-icon": "an icon",
    "image/vnd.adobe.photoshop": "a Photoshop image",
    "video/x-matroska": "a Matroska video",
    "video/quicktime": "a QuickTime video",
    "audio/mp4": "an M4A audio file",
    "audio/mpeg": "an MP3 audio file",
    "audio/ogg": "an Ogg audio file",
}
_BY_SNIFF: dict[str, FileType] = {}
for _type in TYPES.values():
    if _type.check != "text":
        for _mime in sorted(_type.sniffed):
            _BY_SNIFF.setdefault(_mime, _type)
_BY_SNIFF.update({
    "audio/mp4": TYPES["m4a"], "video/mp4": TYPES["mp4"], "video/x-m4v": TYPES["mp4"],
    "video/quicktime": TYPES["mov"], "video/3gpp": TYPES["3gp"], "video/webm": TYPES["webm"],
})  # fmt: skip
_BY_SNIFF.pop("video/x-matroska")  # not a type the API reads, whatever the name says


def _looks_like(sniffed: str | None, head: bytes, is_text: bool) -> str:
    if sniffed:
        known = _BY_SNIFF.get(sniffed)
        found = _LOOKS_LIKE.get(sniffed) or (known.label if known else "")
        return found or f"a {sniffed.rsplit('/', 1)[-1].upper()} file"
    if is_text:
        if re.match(rb"\s*<(!doctype html|html|head|body|script)", head[:1024].lower()):
            return "an HTML page"
        return "text"
    return "binary data"


# --- Names and sizes ------------------------------------------------------------------------

# Marks and overrides that can make "exe.png" read as "gnp.exe"; other format characters
# (zero-width joiners in emoji) stay.
_BIDI = dict.fromkeys([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_DROP = {"Cc", "Cs", "Co", "Zl", "Zp"}


def clean_name(raw) -> str:
    """A display name: no folders, control or bidi-override characters, at most 200 chars."""
    name = str(raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name).translate(_BIDI)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in _DROP)
    name = " ".join(name.split())
    if name.strip(".") == "":
        name = "file"
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and stem and len(ext) <= 16:
            name = f"{stem[: MAX_NAME_CHARS - len(ext) - 2]}….{ext}"
        else:
            name = name[: MAX_NAME_CHARS - 1] + "…"
    return name


def extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem.strip(".") else ""


def human_size(size: float) -> str:
    """1 byte, 512 bytes, 12.5 KB, 31.2 MB, 20 MB (binary units, as people read them)."""
    if size < 1024:
        return "1 byte" if size == 1 else f"{size:,} bytes"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            return f"{size:.1f}".removesuffix(".0") + f" {unit}"
    raise AssertionError("unreachable")


def _q(name: str) -> str:
    return f"“{name if len(name) <= 80 else name[:79] + '…'}”"


# --- Checking -------------------------------------------------------------------------------


@dataclass
class _Checked:
    upload: object
    name: str
    type: FileType
    sha256: str
    size: int


def _scan(upload) -> tuple[str, int, bytes, bool]:
    """(sha256, size, first bytes, whether the whole file is UTF-8 text without NULs)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    head, size, text = b"", 0, True
    for chunk in upload.chunks():
        digest.update(chunk)
        size += len(chunk)
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        if text:
            try:
                decoder.decode(chunk)
                text = b"\0" not in chunk
            except UnicodeDecodeError:
                text = False
    if text:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            text = False
    return digest.hexdigest(), size, head, text


def _zip_names(upload) -> list[str] | None:
    try:
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None


def _odf_mime(upload) -> str:
    try:
        upload.seek(0)
        with zipfile.ZipFile(upload) as archive, archive.open("mimetype") as member:
            return member.read(200).decode("ascii", "replace").strip()
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, EOFError):
        return ""


_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}


def _bytes_agree(kind: FileType, upload, head: bytes, sniffed: str | None, is_text: bool) -> bool:
    if kind.check == "text":
        return is_text and sniffed is None
    if kind.check == "ooxml":
        names = _zip_names(upload) or []
        return "[Content_Types].xml" in names and any(n.startswith(kind.part) for n in names)
    if kind.check == "odf":
        return _odf_mime(upload) == kind.mime
    if kind.check == "ole":
        return head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    if kind.check == "heif":
        return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS
    if kind.check == "iso":  # MP4, MOV, 3GP, M4A: one container family, many brands
        if sniffed and sniffed.startswith("image/"):
            return False
        return sniffed in kind.sniffed or head[4:8] == b"ftyp"
    return sniffed in kind.sniffed


def _too_big(name: str, size: int) -> AttachmentError:
    return AttachmentError(
        gettext("%(name)s is %(size)s; the limit is %(limit)s per file.")
        % {"name": _q(name), "size": human_size(size), "limit": human_size(max_bytes())}
    )


def _unreadable(name: str) -> AttachmentError:
    return AttachmentError(
        gettext("%(name)s is not a file type Gemini can read (%(kinds)s).")
        % {"name": _q(name), "kinds": gettext(KINDS_TEXT)}
    )


def _check(upload) -> _Checked:
    name = clean_name(getattr(upload, "name", ""))
    size = getattr(upload, "size", None) or 0
    if size > max_bytes():
        raise _too_big(name, size)
    sha, size, head, is_text = _scan(upload)
    if size == 0:
        raise AttachmentError(gettext("%(name)s is empty.") % {"name": _q(name)})
    if size > max_bytes():
        raise _too_big(name, size)
    guess = filetype.guess(head)
    sniffed = guess.mime if guess else None
    ext = extension(name)
    if ext:
        kind = TYPES.get(ext)
        if kind is None:
            raise _unreadable(name)
        if not _bytes_agree(kind, upload, head, sniffed, is_text):
            raise AttachmentError(
                gettext("%(name)s is not really %(label)s (it looks like %(found)s).")
                % {
                    "name": _q(name),
                    "label": kind.label,
                    "found": _looks_like(sniffed, head, is_text),
                }
            )
    else:  # no claim: the bytes say what it is
        kind = _BY_SNIFF.get(sniffed) if sniffed else (TEXT if is_text else None)
        if kind is None or not _bytes_agree(kind, upload, head, sniffed, is_text):
            raise _unreadable(name)
    return _Checked(upload, name, kind, sha, size)


def check_request_length(content_length) -> None:
    """Refuse a request body far over the per-message limit before Django parses it."""
    try:
        length = int(content_length or 0)
    except (TypeError, ValueError):
        return
    if length > max_total_bytes() + 2 * MiB:  # the message text and the form's own overhead
        raise AttachmentError(
            gettext("This message is %(size)s with its files; the limit is %(limit)s per message.")
            % {"size": human_size(length), "limit": human_size(max_total_bytes())}
        )


def check_uploads(files) -> list[_Checked]:
    """Every file checked, or AttachmentError for the first that fails (nothing stored)."""
    files = [f for f in files if f is not None]
    if len(files) > max_files():
        raise AttachmentError(
            ngettext(
                "That is %(count)s file; the limit is %(limit)s per message.",
                "That is %(count)s files; the limit is %(limit)s per message.",
                len(files),
            )
            % {"count": len(files), "limit": max_files()}
        )
    checked = [_check(f) for f in files]
    total = sum(c.size for c in checked)
    if total > max_total_bytes():
        raise AttachmentError(
            gettext("These files add up to %(size)s; the limit is %(limit)s per message.")
            % {"size": human_size(total), "limit": human_size(max_total_bytes())}
        )
    return checked


# --- Storing --------------------------------------------------------------------------------


def _store(user, item: _Checked) -> Attachment:
    existing = Attachment.objects.filter(owner=user, sha256=item.sha256).first()
    if existing is not None:
        if not (existing.file and existing.file.storage.exists(existing.file.name)):
            existing.file.save(item.name, item.upload, save=False)
            existing.save(update_fields=["file"])
        if existing.name != item.name:
            existing.name = item.name  # the latest name; each turn keeps its own in its blocks
            existing.save(update_fields=["name"])
        return existing
    row = Attachment(
        owner=user, sha256=item.sha256, name=item.name, mime_type=item.type.mime,
        kind=item.type.kind, size=item.size,
    )  # fmt: skip
    path = row.file.field.generate_filename(row, item.name)
    if row.file.storage.exists(path):  # content-addressed: the same bytes are already there
        row.file.name = path
    else:
        row.file.save(item.name, item.upload, save=False)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:  # the same file, uploaded at the same moment in another request
        return Attachment.objects.get(owner=user, sha256=item.sha256)
    return row


def save_uploads(user, files) -> list[Attachment]:
    """Check every uploaded file, then store them all (or none: AttachmentError).

    Sync (ORM and storage): call it from async code through sync_to_async."""
    checked = check_uploads(files)
    return [_store(user, item) for item in checked]


# --- Blocks ---------------------------------------------------------------------------------


def is_ref(block) -> bool:
    return isinstance(block, dict) and isinstance(block.get("attachment"), str)


def input_blocks(attachments) -> list[dict]:
    """The Content blocks `Turn.user_input` keeps for these files: references, no bytes."""
    return [
        {"type": a.kind, "mime_type": a.mime_type, "attachment": a.sha256, "name": a.name,
         "size": a.size}
        for a in attachments
    ]  # fmt: skip


def text_header(name: str) -> str:
    """The line that names a text file sent as a `text` block."""
    return f"[File: {name}]\n"


def _read(attachment: Attachment) -> bytes | None:
    try:
        with attachment.file.open("rb") as handle:
            return handle.read()
    except (OSError, ValueError):
        return None


def inline_input(user, blocks) -> list[dict]:
    """`Turn.user_input` as the API request's `input`: each reference becomes the file inline
    (`data`, base64), or a `text` block for plain-text files. `user` is the owner (or their
    id); only their files are read. Sync: call through sync_to_async.

    Raises AttachmentError if a file is no longer stored."""
    if not isinstance(blocks, list):
        return blocks
    owner_id = getattr(user, "pk", user)
    wanted = {b["attachment"] for b in blocks if is_ref(b)}
    found = {
        a.sha256: a
        for a in Attachment.objects.filter(owner_id=owner_id, sha256__in=wanted)
    } if wanted else {}  # fmt: skip
    out = []
    for block in blocks:
        if not is_ref(block):
            out.append(block)
            continue
        row = found.get(block["attachment"])
        name = clean_name(block.get("name") or (row.name if row else ""))
        data = _read(row) if row is not None else None
        if row is None or data is None or hashlib.sha256(data).hexdigest() != block["attachment"]:
            raise AttachmentError(
                gettext("%(name)s is no longer stored here; attach it again.") % {"name": _q(name)}
            )
        mime = block.get("mime_type") or row.mime_type
        if mime in TEXT_MIMES:
            out.append({"type": "text", "text": text_header(name) + data.decode("utf-8")})
            continue
        sent = {k: v for k, v in block.items() if k not in REF_KEYS}
        sent.update(type=block.get("type") or row.kind, mime_type=mime)
        sent["data"] = base64.b64encode(data).decode("ascii")
        out.append(sent)
    return out


# --- The API's echo of the input ------------------------------------------------------------

_sha_cache: dict[tuple[int, int], str | None] = {}


def _cached(value: str, compute) -> str | None:
    # Steps are re-saved many times per turn; the same (large) string is hashed once.
    key = (len(value), hash(value))
    if key not in _sha_cache:
        if len(_sha_cache) > 256:
            _sha_cache.clear()
        _sha_cache[key] = compute(value)
    return _sha_cache[key]


def _b64_sha256(data: str) -> str | None:
    try:
        return hashlib.sha256(base64.b64decode(data, validate=True)).hexdigest()
    except (binascii.Error, ValueError):
        return None


def _b64_size(data: str) -> int:
    pad = 2 if data.endswith("==") else 1 if data.endswith("=") else 0
    return len(data) * 3 // 4 - pad


def _unecho(block, refs: dict[str, dict], sizes: set[int] | None):
    if not isinstance(block, dict):
        return block
    data = block.get("data")
    if isinstance(data, str) and (sizes is None or _b64_size(data) in sizes):
        sha = _cached(data, _b64_sha256)
        if sha in refs:
            ref = refs[sha]
            out = {k: v for k, v in block.items() if k != "data"}
            out.setdefault("mime_type", ref.get("mime_type"))
            out.update({k: ref[k] for k in REF_KEYS if k in ref})
            return out
    text = block.get("text")
    if block.get("type") == "text" and isinstance(text, str) and text.startswith("[File: "):
        for sha, ref in refs.items():
            header = text_header(clean_name(ref.get("name")))
            if ref.get("mime_type") in TEXT_MIMES and text.startswith(header):
                body = text[len(header) :]
                if _cached(body, lambda s: hashlib.sha256(s.encode()).hexdigest()) == sha:
                    return dict(ref)
    return block


def strip_echo(steps, user_input) -> list:
    """Steps with the API's echo of the user's files (`user_input` steps, base64 or the text
    of a text file) replaced by the references in `user_input`: the files are kept, so this
    loses nothing, and megabytes are not stored twice. Other steps are returned as they are."""
    refs = {b["attachment"]: b for b in user_input or [] if is_ref(b)}
    if not refs or not isinstance(steps, list):
        return steps
    # Only a block of one of the files' sizes is hashed (None: a reference without a size).
    known = {r.get("size") for r in refs.values()}
    sizes = known if all(isinstance(size, int) for size in known) else None
    out = []
    for step in steps:
        if (
            isinstance(step, dict)
            and step.get("type") == "user_input"
            and isinstance(step.get("content"), list)
        ):
            step = {**step, "content": [_unecho(b, refs, sizes) for b in step["content"]]}
        out.append(step)
    return out
