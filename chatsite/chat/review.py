"""The admin's review of a conversation: reviewed (by whom, when), flagged with a reason, private
notes. Only people who may read others' conversations review them, never their own: the person
a conversation belongs to is never shown its review (no page of theirs reads a Review, and the
read log's entries say what was done, never the reason or the notes)."""

from __future__ import annotations

from django.utils import timezone

from .models import Conversation, Review, TranscriptRead

MAX_REASON = 500


def may_review(user, conversation: Conversation) -> bool:
    from .admin_views import may_read_others

    return may_read_others(user) and conversation.owner_id != user.pk


def review_of(conversation: Conversation) -> Review:
    return Review.objects.filter(conversation=conversation).first() or Review(
        conversation=conversation
    )


def _log(user, conversation: Conversation, detail: str) -> None:
    TranscriptRead.objects.create(
        reader=user,
        owner_id=conversation.owner_id,
        conversation=conversation,
        conversation_title=str(conversation)[:200],
        what="review",
        detail=detail,
    )


def apply(user, conversation: Conversation, action: str, *, reason="", notes="") -> str:
    """Do one review action and log it; returns what was done (for the message)."""
    review = review_of(conversation)
    if action == "reviewed":
        review.reviewed_by, review.reviewed_at = user, timezone.now()
        done = "marked reviewed"
    elif action == "unreviewed":
        review.reviewed_by, review.reviewed_at = None, None
        done = "marked not reviewed"
    elif action == "flag":
        reason = reason.strip()[:MAX_REASON]
        if not reason:
            raise ValueError("A flag needs a reason.")
        review.flagged, review.flag_reason = True, reason
        done = "flagged"
    elif action == "unflag":
        review.flagged, review.flag_reason = False, ""
        done = "unflagged"
    elif action == "notes":
        review.notes = notes.strip()
        done = "notes saved"
    else:
        raise ValueError("No such review action.")
    review.save()
    _log(user, conversation, done)
    return done
