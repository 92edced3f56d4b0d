"""Presets: the kind, item path, field map, paging and reach field of the services people point this at.

A source with `preset: NAME` starts from these keys; every key the source writes itself wins (the field map
key by key). Plain data: monitor.config applies it while validating, so nothing here imports the config.
"""

from __future__ import annotations

import copy
import difflib
from typing import Any

PRESETS: dict[str, dict[str, Any]] = {
    # flickr.photos.search / flickr.people.getPublicPhotos with format=json&nojsoncallback=1&
    # extras=date_upload,geo,owner_name,views,url_l,url_c,url_z,url_m; latitude 0 there means "no place".
    "flickr": {
        "kind": "json",
        "items": "photos.photo",
        "page_param": "page",
        "pages_path": "photos.pages",
        "fields": {
            "image": ["url_l", "url_c", "url_z", "url_m"],
            "id": "id",
            "time": "dateupload",
            "latitude": "latitude",
            "longitude": "longitude",
            "caption": "title",
            "author": "ownername",
            "reach": "views",
        },
    },
    # /api/v1/timelines/tag/NAME, /api/v1/accounts/ID/statuses: a list of statuses, older pages by max_id.
    "mastodon": {
        "kind": "json",
        "items": "",
        "cursor_path": "-1.id",
        "cursor_param": "max_id",
        "fields": {
            "image": "media_attachments[*].url",
            "id": "id",
            "time": "created_at",
            "caption": "content",
            "author": "account.acct",
            "reach": "account.followers_count",
        },
    },
    # https://www.reddit.com/r/NAME/new.json: galleries (every photo), else the post's preview image.
    "reddit": {
        "kind": "json",
        "items": "data.children",
        "cursor_path": "data.after",
        "cursor_param": "after",
        "fields": {
            "image": ["data.media_metadata.*.s.u", "data.preview.images[*].source.url"],
            "id": "data.name",
            "time": "data.created_utc",
            "caption": "data.title",
            "author": "data.author",
            "reach": "data.subreddit_subscribers",
        },
    },
    # https://www.youtube.com/feeds/videos.xml?channel_id=ID: each video's thumbnail (the player is no photo).
    "youtube": {"kind": "rss", "html_images": False},
    # https://BLOG/feed/: photos in the post HTML (largest srcset size once), GeoRSS places; avatars skipped.
    "wordpress": {"kind": "rss", "html_images": True},
}


class PresetError(ValueError):
    """An unknown preset, or a source whose kind contradicts its preset."""


def apply_preset(source: dict[str, Any]) -> dict[str, Any]:
    """The source's keys over its preset's (the field map merged key by key); unchanged without a preset."""
    name = source.get("preset")
    if name in (None, ""):
        return source
    preset = PRESETS.get(str(name))
    if preset is None:
        close = difflib.get_close_matches(str(name), PRESETS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise PresetError(f"unknown preset {name!r}{hint} (valid presets: {', '.join(PRESETS)})")
    if source.get("kind") not in (None, preset["kind"]):
        raise PresetError(
            f"preset {name!r} is a {preset['kind']} source; kind {source['kind']!r} contradicts it "
            "(drop kind, or drop the preset)"
        )
    merged = copy.deepcopy(preset)
    for key, value in source.items():
        if key == "fields" and isinstance(value, dict) and isinstance(merged.get("fields"), dict):
            merged["fields"].update(value)
        else:
            merged[key] = value
    return merged
