"""VK Callback API events (API 5.x) as pydantic models, and what each comment event means for the inbox.

Every event is `{"type", "object", "group_id", "event_id", "v", "secret"}`. The comment events of five kinds
of objects are handled: wall posts, photos, videos, discussion boards and market items, each with its
new/edit/restore events (a comment object plus the id and owner of what it comments on) and a delete event
(ids only). Field names follow VK's documented objects; fields VK adds later are accepted and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from training.runtime.inbox.records import MODE_EDIT, MODE_NEW, MODE_RESTORE, CommentRef, IncomingComment

CONFIRMATION = "confirmation"
EVENT_EXAMPLE: dict[str, Any] = {
    "type": "wall_reply_new",
    "event_id": "a4c6b1e0f2d3c4b5a6978877665544332211aabb",
    "v": "5.199",
    "object": {
        "id": 1234,
        "from_id": 56789,
        "post_id": 321,
        "owner_id": -123456,
        "post_owner_id": -123456,
        "parents_stack": [],
        "date": 1733112000,
        "text": "[club123456|Администрация], когда отремонтируют дорогу на улице Ленина?",
        "thread": {"count": 0},
    },
    "group_id": 123456,
    "secret": "секретный-ключ",
}


# VK's ids (negative for communities' own objects) fit in 64 bits; a larger number is a 400, never a database
# overflow (SQLite and PostgreSQL store 64-bit integers).
VkId = Annotated[int, Field(ge=-(2**62), le=2**62)]


class VkEvent(BaseModel):
    """The envelope of every Callback API event."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [EVENT_EXAMPLE]})

    type: str = Field(min_length=1, max_length=64, description="тип события, например wall_reply_new")
    group_id: VkId = Field(description="id сообщества")
    event_id: str | None = Field(default=None, max_length=100, description="уникальный id события (повторы)")
    v: str | None = Field(default=None, max_length=20, description="версия API объекта")
    secret: str | None = Field(default=None, max_length=200, description="секретный ключ из настроек Callback API")
    object: dict[str, Any] | None = Field(default=None, description="объект события")


class _Obj(BaseModel):
    model_config = ConfigDict(extra="allow")


class VkComment(_Obj):
    """A comment object (wall_reply_new and the other comment events)."""

    id: VkId
    from_id: VkId | None = None
    date: int = Field(ge=0, le=10**10)  # unixtime (VK: seconds)
    text: str = ""
    parents_stack: list[int] = Field(default_factory=list)
    thread: dict[str, Any] | None = None
    reply_to_user: VkId | None = None
    reply_to_comment: VkId | None = None
    attachments: list[dict[str, Any]] | None = None

    def target(self) -> tuple[int, int]:
        """(owner id, object id) of what the comment is on."""
        raise NotImplementedError


class WallReply(VkComment):
    post_id: VkId
    owner_id: int | None = None  # VK sends both owner_id and post_owner_id for wall comments
    post_owner_id: VkId | None = None

    @model_validator(mode="after")
    def _owner(self) -> WallReply:
        if self.owner_id is None and self.post_owner_id is None:
            raise ValueError("owner_id or post_owner_id is required")
        return self

    def target(self) -> tuple[int, int]:
        owner = self.owner_id if self.owner_id is not None else self.post_owner_id
        assert owner is not None
        return owner, self.post_id


class PhotoComment(VkComment):
    photo_id: VkId
    photo_owner_id: VkId

    def target(self) -> tuple[int, int]:
        return self.photo_owner_id, self.photo_id


class VideoComment(VkComment):
    video_id: VkId
    video_owner_id: VkId

    def target(self) -> tuple[int, int]:
        return self.video_owner_id, self.video_id


class BoardPost(VkComment):
    topic_id: VkId
    topic_owner_id: VkId

    def target(self) -> tuple[int, int]:
        return self.topic_owner_id, self.topic_id


class MarketComment(VkComment):
    item_id: VkId
    market_owner_id: VkId

    def target(self) -> tuple[int, int]:
        return self.market_owner_id, self.item_id


class VkDelete(_Obj):
    id: VkId
    deleter_id: VkId | None = None
    user_id: VkId | None = None

    def target(self) -> tuple[int, int]:
        raise NotImplementedError


class WallReplyDelete(VkDelete):
    owner_id: VkId
    post_id: VkId

    def target(self) -> tuple[int, int]:
        return self.owner_id, self.post_id


class PhotoCommentDelete(VkDelete):
    owner_id: VkId
    photo_id: VkId

    def target(self) -> tuple[int, int]:
        return self.owner_id, self.photo_id


class VideoCommentDelete(VkDelete):
    owner_id: VkId
    video_id: VkId

    def target(self) -> tuple[int, int]:
        return self.owner_id, self.video_id


class BoardPostDelete(VkDelete):
    topic_owner_id: VkId
    topic_id: VkId

    def target(self) -> tuple[int, int]:
        return self.topic_owner_id, self.topic_id


class MarketCommentDelete(VkDelete):
    owner_id: VkId
    item_id: VkId

    def target(self) -> tuple[int, int]:
        return self.owner_id, self.item_id


@dataclass(frozen=True)
class Kind:
    """One kind of commented object: its event prefix, its object models, the API method that deletes a
    comment and the address of the comment on vk.com."""

    name: str
    prefix: str
    comment: type[VkComment]
    delete: type[VkDelete]
    delete_method: str
    url: str  # str.format with o (owner id), obj (object id), c (comment id)
    title_ru: str = ""

    def delete_params(self, ref: CommentRef) -> dict[str, int]:
        if self.name == "board":  # board.deleteComment takes the community id (positive) and the topic
            return {"group_id": abs(ref.owner_id), "topic_id": ref.object_id, "comment_id": ref.comment_id}
        return {"owner_id": ref.owner_id, "comment_id": ref.comment_id}


_KINDS = (
    Kind("wall", "wall_reply", WallReply, WallReplyDelete, "wall.deleteComment", "wall{o}_{obj}?reply={c}", "стена"),
    Kind("photo", "photo_comment", PhotoComment, PhotoCommentDelete, "photos.deleteComment", "photo{o}_{obj}", "фото"),
    Kind("video", "video_comment", VideoComment, VideoCommentDelete, "video.deleteComment", "video{o}_{obj}", "видео"),
    Kind(
        "board",
        "board_post",
        BoardPost,
        BoardPostDelete,
        "board.deleteComment",
        "topic{o}_{obj}?post={c}",
        "обсуждения",
    ),
    Kind(
        "market",
        "market_comment",
        MarketComment,
        MarketCommentDelete,
        "market.deleteComment",
        "product{o}_{obj}",
        "товары",
    ),
)
KINDS: dict[str, Kind] = {k.name: k for k in _KINDS}
COMMENT_MODES = {"new": MODE_NEW, "edit": MODE_EDIT, "restore": MODE_RESTORE}
DELETE = "delete"
# Every event type this receiver acts on: {prefix}_{new|edit|restore|delete} for each kind.
EVENT_TYPES: dict[str, tuple[Kind, str]] = {
    f"{k.prefix}_{verb}": (k, verb) for k in KINDS.values() for verb in (*COMMENT_MODES, DELETE)
}


def comment_url(kind: str, owner_id: int, object_id: int, comment_id: int) -> str | None:
    """The comment (or what it is on) on vk.com, for the moderation page."""
    spec = KINDS.get(kind)
    if spec is None:
        return None
    return "https://vk.com/" + spec.url.format(o=owner_id, obj=object_id, c=comment_id)


@dataclass(frozen=True)
class CommentEvent:
    comment: IncomingComment
    mode: str


@dataclass(frozen=True)
class DeleteEvent:
    ref: CommentRef
    deleter_id: VkId | None


def parse_comment_event(event: VkEvent) -> CommentEvent | DeleteEvent | None:
    """What a comment event means for the inbox; None for a type not handled here. Raises
    pydantic.ValidationError when the object lacks what VK documents for the type."""
    known = EVENT_TYPES.get(event.type)
    if known is None:
        return None
    kind, verb = known
    obj = event.object or {}
    if verb == DELETE:
        deleted = kind.delete.model_validate(obj)
        owner, target = deleted.target()
        return DeleteEvent(CommentRef(event.group_id, kind.name, owner, target, deleted.id), deleted.deleter_id)
    comment = kind.comment.model_validate(obj)
    owner, target = comment.target()
    ref = CommentRef(event.group_id, kind.name, owner, target, comment.id)
    date = datetime.fromtimestamp(comment.date, UTC)
    return CommentEvent(IncomingComment(ref, comment.from_id, date, comment.text), COMMENT_MODES[verb])
