"""Archived media of an item: thumbnails and keyframes for viewers, the original file for moderators; all audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from monitor.core.audit import record_audit
from monitor.core.db import transaction
from monitor.core.errors import NotFound
from monitor.core.vocab import Role
from monitor.ingest.media.archive import ArchiveError, DiskArchive
from monitor.ingest.media.evidence import frame_sha, media_of_item
from monitor.web.security import Actor, require

router = APIRouter(include_in_schema=False)


def _archive(request: Request) -> DiskArchive:
    return DiskArchive(request.app.state.web.settings.media.dir)


def _bytes(request: Request, sha: str) -> bytes:
    try:
        return _archive(request).get(sha)
    except ArchiveError:
        raise NotFound("the archived file is no longer kept") from None


def _jpeg(body: bytes) -> Response:
    return Response(body, media_type="image/jpeg", headers={"content-disposition": "inline"})


@router.get("/items/{item_id}/media/{media_id}/thumb.jpg")
def thumb_view(item_id: int, media_id: int, request: Request,
               actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> Response:
    """The thumbnail (first keyframe) of an archived photo or video; the view is audited."""
    with transaction(request.app.state.web.sessions) as session:
        media = media_of_item(session, item_id, media_id)
        if not media.thumb_sha256:
            raise NotFound(f"media {media_id} has no thumbnail")
        sha = media.thumb_sha256
        record_audit(session, actor.name, "media.view", "queue_item", item_id, media_id=media_id, frame="thumb",
                     sha256=media.sha256)
    return _jpeg(_bytes(request, sha))


@router.get("/items/{item_id}/media/{media_id}/frames/{idx}.jpg")
def frame_view(item_id: int, media_id: int, idx: int, request: Request,
               actor: Annotated[Actor, Depends(require(Role.VIEWER))]) -> Response:
    """One keyframe of the strip; the view is audited."""
    with transaction(request.app.state.web.sessions) as session:
        media = media_of_item(session, item_id, media_id)
        sha = frame_sha(session, media_id, idx)
        record_audit(session, actor.name, "media.view", "queue_item", item_id, media_id=media_id, frame=idx,
                     sha256=media.sha256)
    return _jpeg(_bytes(request, sha))


@router.get("/items/{item_id}/media/{media_id}/file")
def download_view(item_id: int, media_id: int, request: Request,
                  actor: Annotated[Actor, Depends(require(Role.MODERATOR))]) -> Response:
    """The archived original as an attachment (never rendered inline by the browser); audited."""
    with transaction(request.app.state.web.sessions) as session:
        media = media_of_item(session, item_id, media_id)
        if not media.sha256 or media.status == "purged":
            raise NotFound(f"media {media_id} has no archived file")
        sha = media.sha256
        record_audit(session, actor.name, "media.download", "queue_item", item_id, media_id=media_id, sha256=sha)
    ext = {"video/mp4": "mp4", "video/webm": "webm", "image/jpeg": "jpg", "image/png": "png",
           "image/webp": "webp"}.get(media.content_type or "", "bin")
    return Response(_bytes(request, sha), media_type="application/octet-stream",
                    headers={"content-disposition": f'attachment; filename="{sha}.{ext}"'})
