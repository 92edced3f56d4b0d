"""The review page: photos of the queue, one at a time or as a grid, every value escaped."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from monitor.review.sampling import stratum_label

GRID = 12

MODES = {
    "sample": (
        "Random sample mode",
        "Photos come from a stratified random sample of the feed: these judgments "
        "estimate the model's recall and false-positive rate for reports.",
    ),
    "uncertain": (
        "Uncertain mode (active learning)",
        "Photos whose scores lie closest to a threshold come first: "
        "these judgments go to training exports only, never into "
        "the error rates (they are not a random sample).",
    ),
}

STYLE = """
body{font-family:system-ui,sans-serif;margin:1rem;background:#fafafa;color:#222}
header{border-bottom:1px solid #ccc;margin-bottom:1rem}
.mode{font-weight:bold;padding:.2rem .5rem;background:#ffe9a8;display:inline-block}
.mode.sample{background:#cdeccd}
.tiles{display:flex;flex-wrap:wrap;gap:1rem}
.tile{border:2px solid #ddd;padding:.5rem;background:#fff;max-width:520px}
.tile.current{border-color:#2a6be0}
.tile.saved{background:#eef8ee}
.tile img{max-width:500px;max-height:400px;display:block}
.grid .tile img{max-width:220px;max-height:180px}
.meta{font-size:.8rem;color:#555;overflow-wrap:anywhere}
label{display:block}
table{border-collapse:collapse;font-size:.85rem}td,th{padding:.1rem .5rem;text-align:right}
kbd{border:1px solid #aaa;border-radius:3px;padding:0 .25rem;font-size:.8rem}
"""

SCRIPT = """
(function () {
  var tiles = Array.prototype.slice.call(document.querySelectorAll('.tile'));
  var current = 0;
  var token = document.body.getAttribute('data-token');
  function focus(i) {
    if (!tiles.length) { return; }
    tiles[current].classList.remove('current');
    current = Math.max(0, Math.min(tiles.length - 1, i));
    tiles[current].classList.add('current');
    tiles[current].scrollIntoView({block: 'nearest'});
  }
  function go(link) { var a = document.getElementById(link); if (a) { window.location.href = a.href; } }
  function save(tile) {
    var present = Array.prototype.slice.call(tile.querySelectorAll('input[type=checkbox]'))
      .filter(function (box) { return box.checked; }).map(function (box) { return box.value; });
    var body = JSON.stringify({image_id: Number(tile.getAttribute('data-image')), present: present});
    var headers = {'Content-Type': 'application/json', 'X-Review': '1'};
    if (token) { headers['X-Review-Token'] = token; }
    return fetch('/judge', {method: 'POST', headers: headers, body: body, credentials: 'same-origin'})
      .then(function (r) { return r.json().then(function (data) { return [r.ok, data]; }); })
      .then(function (result) {
        var status = tile.querySelector('.status');
        if (result[0]) { tile.classList.add('saved'); status.textContent = 'saved'; }
        else { status.textContent = 'not saved: ' + (result[1].error || 'error'); }
        return result[0];
      });
  }
  document.addEventListener('keydown', function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || !tiles.length) { return; }
    var tile = tiles[current], key = event.key;
    if (/^[1-9]$/.test(key)) {
      var box = tile.querySelector('input[data-key="' + key + '"]');
      if (box) { box.checked = !box.checked; }
    } else if (key === '0') {
      tile.querySelectorAll('input[type=checkbox]').forEach(function (b) { b.checked = false; });
    } else if (key === 'Enter' || key === ' ') {
      save(tile).then(function (ok) {
        if (!ok) { return; }
        if (current < tiles.length - 1) { focus(current + 1); } else { go('next'); }
      });
    } else if (key === 'ArrowRight' || key === 'j') {
      if (current < tiles.length - 1) { focus(current + 1); } else { go('next'); }
    } else if (key === 'ArrowLeft' || key === 'k') {
      if (current > 0) { focus(current - 1); } else { go('prev'); }
    } else if (key === 'g') { go('toggle'); } else { return; }
    event.preventDefault();
  });
  document.querySelectorAll('button.save').forEach(function (button) {
    button.addEventListener('click', function () { save(button.closest('.tile')); });
  });
  focus(0);
})();
"""


def _tile(item: dict[str, Any], brands: Sequence[str]) -> str:
    photo, verdicts = item["photo"], item["verdicts"]
    image = f'<img alt="thumbnail" src="/photo/{int(photo["id"])}/thumb">' if photo.get("jpeg") else ""
    if item["readable"]:
        image = f'<img alt="photo" src="/photo/{int(photo["id"])}/full">'
    elif not image:
        image = "<p>(no thumbnail stored and the photo is no longer readable)</p>"
    boxes = []
    for number, brand in enumerate(brands, start=1):
        score = item["detected"].get(brand)
        ticked = verdicts[brand] if brand in verdicts else score is not None
        key = str(number) if number <= 9 else ""
        detail = f" (detected, score {score:.2f})" if score is not None else ""
        boxes.append(
            f'<label><input type="checkbox" value="{escape(brand)}" data-key="{key}"'
            f"{' checked' if ticked else ''}> {f'<kbd>{key}</kbd> ' if key else ''}"
            f"{escape(brand)}{escape(detail)}</label>"
        )
    judged = item.get("judged_by")
    status = f"judged by {escape(judged[0])} at {escape(judged[1])}" if judged else "not judged yet"
    meta = (
        f"#{item['position'] + 1} · {escape(stratum_label(item['stratum']))} · posted "
        f"{escape(str(photo.get('posted_at') or '?'))}<br>{escape(str(photo.get('uri') or ''))}"
        + (f"<br>{escape(str(photo['caption']))}" if photo.get("caption") else "")
    )
    return (
        f'<div class="tile{" saved" if judged else ""}" data-image="{int(photo["id"])}">{image}'
        f'<div class="meta">{meta}</div><form onsubmit="return false">{"".join(boxes)}'
        f'<button type="button" class="save">Save (Enter)</button> <span class="status">{status}</span>'
        f"</form></div>"
    )


def _progress(plan: Any) -> str:
    rows = "".join(
        f"<tr><td style='text-align:left'>{escape(stratum_label(s))}</td><td>{plan.sizes[s]}</td>"
        f"<td>{plan.judged.get(s, 0)}</td><td>{plan.more[s]}</td><td style='text-align:left'>"
        f"{escape(plan.why.get(s, ''))}</td></tr>"
        for s in plan.sizes
    )
    return (
        f"<p>For every brand's corrected counts within +/-{plan.precision:.0%} (95%, from the audit alone): "
        f"<b id='more'>about {plan.more_total} more judgments needed</b>.</p><table><tr><th>stratum</th>"
        f"<th>photos</th><th>judged</th><th>more needed</th><th>driven by</th></tr>{rows}</table>"
    )


def render_page(
    *,
    mode: str,
    version: int,
    brands: Sequence[str],
    items: list[dict[str, Any]],
    at: int,
    size: int,
    grid: bool,
    plan: Any,
    token: str = "",
) -> str:
    """The whole page for queue items [at, at + shown)."""
    title, explain = MODES[mode]
    shown = GRID if grid else 1
    view = "grid" if grid else "one"
    suffix = f"&view={view}"
    links = []
    if at > 0:
        links.append(f'<a id="prev" href="/?at={max(at - shown, 0)}{suffix}">previous</a>')
    if at + shown < size:
        links.append(f'<a id="next" href="/?at={at + shown}{suffix}">next</a>')
    links.append(
        f'<a id="toggle" href="/?at={at}&view={"one" if grid else "grid"}">'
        f"{'one at a time' if grid else 'grid'} (g)</a>"
    )
    keys = (
        "<kbd>1</kbd>-<kbd>9</kbd> toggle a brand, <kbd>0</kbd> none, <kbd>Enter</kbd> save and go on, "
        "<kbd>&larr;</kbd>/<kbd>&rarr;</kbd> move, <kbd>g</kbd> grid"
    )
    tiles = "".join(_tile(item, brands) for item in items) or "<p>The queue is empty.</p>"
    progress = _progress(plan) if mode == "sample" else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Review · model version '
        f'{int(version)}</title><link rel="icon" href="data:,"><style>{STYLE}</style></head>'
        f'<body data-token="{escape(token)}">'
        f"<header><h1>Review the feed · model version {int(version)}</h1>"
        f'<p><span id="mode" class="mode {escape(mode)}">{escape(title)}</span> {escape(explain)}</p>'
        f"{progress}<p>Photos {at + 1 if size else 0}-{min(at + shown, size)} of {size} · {' · '.join(links)}"
        f'</p><p class="meta">{keys}</p></header><main class="tiles {view}">{tiles}</main>'
        f"<script>{SCRIPT}</script></body></html>"
    )
