"""Which photos a feed entry shows: <img> tags (srcset), decorations to skip, size variants taken once."""

from __future__ import annotations

import html
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TINY_PX = 10  # an <img> this small or smaller (width or height attribute) is a tracking pixel or an icon
DECORATION_CLASSES = re.compile(r"(^|[\s_-])(avatar|gravatar|emoji|smiley|tracking|pixel|badge|icon)s?([\s_-]|$)", re.I)
DECORATION_HOSTS = (
    "gravatar.com",
    "s.w.org",
    "pixel.wp.com",
    "stats.wordpress.com",
    "feeds.feedburner.com",
    "feedproxy.google.com",
    "pixel.quantserve.com",
    "www.google-analytics.com",
    "b.scorecardresearch.com",
    "pi.feedsportal.com",
    "feeds.feedblitz.com",
    "pixel.tumblr.com",
    "assets.tumblr.com",
)
DECORATION_PATH = re.compile(r"/(avatars?|emoji|emojis|smilies|gravatar)(/|_|$)|/avatar_[^/]*$|/(b|pixel)\.gif$", re.I)
_WP_SIZE = re.compile(r"-(\d{1,5})x(\d{1,5})(?=\.[A-Za-z0-9]{2,5}$)")  # WordPress photo-1024x768.jpg
_SIZE_PARAMS = {"w", "h", "width", "height", "resize", "fit", "size", "crop", "s", "quality", "auto", "format"}


@dataclass(frozen=True)
class Candidate:
    """A URL a feed names as a picture, with what it says about the picture's size and role."""

    url: str
    width: int | None = None  # pixels, when the feed or the URL says
    css_class: str = ""
    height: int | None = None


def unescape_url(url: str) -> str:
    """The URL with HTML escapes undone (feeds often escape `&` twice: `&amp;amp;` arrives as `&amp;`)."""
    url = url.strip()
    for _ in range(3):
        if "&" not in url or ";" not in url:
            break
        unescaped = html.unescape(url)
        if unescaped == url:
            break
        url = unescaped
    return url


def is_decoration(candidate: Candidate) -> bool:
    """True for avatars, gravatars, emoji and tracking pixels (by class, size attributes, host or path)."""
    if DECORATION_CLASSES.search(candidate.css_class or ""):
        return True
    if any(size is not None and size <= TINY_PX for size in (candidate.width, candidate.height)):
        return True
    parts = urlsplit(candidate.url)
    host = (parts.hostname or "").lower()
    if any(host == known or host.endswith("." + known) for known in DECORATION_HOSTS):
        return True
    return bool(DECORATION_PATH.search(parts.path))


def not_a_picture(url: str) -> bool:
    """True when the URL's extension names something other than a picture (a video, a page, a player)."""
    path = urlsplit(url).path.lower()
    if "." not in path.rsplit("/", 1)[-1]:
        return False  # no extension: the bytes decide
    guessed = mimetypes.guess_type(path)[0] or ""
    return bool(guessed) and not guessed.startswith("image/")


def variant_key(url: str) -> str:
    """The URL without size markers: every size of one picture has the same key."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in _SIZE_PARAMS]
    return urlunsplit(parts._replace(path=_WP_SIZE.sub("", parts.path), query=urlencode(query), fragment=""))


def _size(candidate: Candidate) -> float:
    if candidate.width:
        return float(candidate.width)
    parts = urlsplit(candidate.url)
    marked = _WP_SIZE.search(parts.path)
    if marked:
        return float(marked.group(1))
    for key, value in parse_qsl(parts.query):
        if key.lower() in ("w", "width") and value.isdigit():
            return float(value)
    return float("inf")  # no size marker: the original, larger than its resized copies


def largest_once(candidates: Iterable[Candidate]) -> list[str]:
    """One URL per picture (the largest of its size variants), decorations left out, first-seen order."""
    best: dict[str, Candidate] = {}
    for candidate in candidates:
        if not candidate.url or candidate.url.startswith("data:") or is_decoration(candidate):
            continue
        key = variant_key(candidate.url)
        if key not in best or _size(candidate) > _size(best[key]):
            best[key] = candidate
    return [candidate.url for candidate in best.values()]


def _int(value: str | None) -> int | None:
    match = re.match(r"\s*(\d{1,6})", value or "")
    return int(match.group(1)) if match else None


def srcset_largest(srcset: str) -> tuple[str, int | None] | None:
    """The largest candidate of a srcset (by its `w` or `x` descriptor) with its width if it says."""
    best: tuple[float, str, int | None] | None = None
    for part in srcset.split(","):
        pieces = part.strip().split()
        if not pieces:
            continue
        descriptor = pieces[1].lower() if len(pieces) > 1 else "1x"
        try:
            score = float(descriptor[:-1]) * (1 if descriptor.endswith("w") else 10_000)
        except ValueError:
            continue
        width = int(float(descriptor[:-1])) if descriptor.endswith("w") else None
        if best is None or score > best[0]:
            best = (score, pieces[0], width)
    return (best[1], best[2]) if best else None


class _ImgTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Candidate] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "img":
            return
        values = {key: value or "" for key, value in attrs}
        src = values.get("src") or values.get("data-src") or ""
        width, height = _int(values.get("width")), _int(values.get("height"))
        largest = srcset_largest(values.get("srcset") or values.get("data-srcset") or "")
        if largest:  # the attributes describe the shown size, not the largest candidate's
            src, width, height = largest[0], largest[1], None
        if src:
            self.found.append(Candidate(unescape_url(src), width, values.get("class", ""), height))


def html_images(markup: str) -> list[Candidate]:
    """Every <img> in an HTML fragment, each with its largest srcset candidate, class and size attributes."""
    parser = _ImgTags()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient; anything it still chokes on has no usable images
        pass
    return parser.found
