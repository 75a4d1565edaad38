"""The `npr-cds` kind: documents of NPR's Content Distribution Service, mapped to records.

A CDS answer is `{"resources": [document, ...]}` (a single document and a plain list
are read too). A story document links its parts (`bylines`, `images`, `audio`) to its
`assets` with `#/assets/<id>` references:

- id, title, teaser (`shortTeaser` when there is none), `publishDateTime`,
  `editorialLastModifiedDateTime`;
- url: the `webPages` link whose rels hold `canonical` (else the first);
- bylines: byline assets' `name` (reference bylines point at other documents and would
  cost a request each, so they are left out);
- image: the `images` link with rel `primary` (else the first); its asset's enclosure
  with rel `primary` (else `enlargement`, else the first), `caption`, `altText`, and
  the credit as `producer/provider`;
- audio: available audio assets: the mp3 (else first audio) enclosure with `fileSize`,
  `duration`, `isDownloadable`/`isEmbeddable`, `embeddedPlayerLink`,
  `transcriptWebPageLink`; premium audio is left out;
- topics: the source's topics (`collections` name topics by document id only).
"""

from __future__ import annotations

import json
from typing import Any

from stories.files import Batch

from .mapping import batch_from_raw, decode_json_text, html_to_text, with_absolute_urls
from .model import ParseError, Retrieved, Source


def parse_npr_cds(source: Source, document: Retrieved) -> Batch:
    try:
        data = json.loads(decode_json_text(document))
    except json.JSONDecodeError as exc:
        raise ParseError(f"not valid JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("resources"), list):
        documents = data["resources"]
    elif isinstance(data, dict) and "id" in data and "profiles" in data:
        documents = [data]
    elif isinstance(data, list):
        documents = data
    else:
        raise ParseError('not a CDS answer: expected {"resources": [...]} or a document')
    return batch_from_raw(source, [
        (with_absolute_urls(map_document(doc), document.url), "document") for doc in documents
    ])


def _links(doc: dict, key: str) -> list[dict]:
    value = doc.get(key)
    return [link for link in value if isinstance(link, dict)] if isinstance(value, list) else []


def _rels(link: dict) -> list[str]:
    rels = link.get("rels")
    return rels if isinstance(rels, list) else []


def _asset(doc: dict, link: dict) -> dict | None:
    href = link.get("href")
    assets = doc.get("assets")
    if (
        not isinstance(href, str)
        or not href.startswith("#/assets/")
        or not isinstance(assets, dict)
    ):
        return None
    asset = assets.get(href[len("#/assets/") :])
    return asset if isinstance(asset, dict) else None


def _href(value: Any) -> str | None:
    if isinstance(value, dict) and isinstance(value.get("href"), str):
        return value["href"]
    return None


def _pick(items: list[dict], *preferred_rels: str) -> dict | None:
    for rel in preferred_rels:
        for item in items:
            if rel in _rels(item):
                return item
    return items[0] if items else None


def map_document(doc: Any) -> Any:
    if not isinstance(doc, dict):
        return doc  # validation reports "record: must be an object"
    web_page = _pick(_links(doc, "webPages"), "canonical")
    teaser = doc.get("teaser") or doc.get("shortTeaser")
    record: dict[str, Any] = {
        "id": doc.get("id"),
        "url": _href(web_page),
        "title": doc.get("title"),
        "teaser": html_to_text(teaser) if isinstance(teaser, str) else teaser,
        "published": doc.get("publishDateTime"),
        "updated": doc.get("editorialLastModifiedDateTime"),
        "bylines": _bylines(doc) or None,
        "image": _image(doc),
        "audio": _audio(doc) or None,
    }
    return {k: v for k, v in record.items() if v is not None and v != ""}


def _bylines(doc: dict) -> list[str]:
    names = []
    for link in _links(doc, "bylines"):
        asset = _asset(doc, link)
        name = asset.get("name") if asset else None
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


def _image(doc: dict) -> dict | None:
    link = _pick(_links(doc, "images"), "primary")
    asset = _asset(doc, link) if link else None
    if asset is None:
        return None
    enclosure = _pick(_links(asset, "enclosures"), "primary", "enlargement")
    if enclosure is None:
        return None
    producer = (
        (asset.get("producer") or "").strip() if isinstance(asset.get("producer"), str) else ""
    )
    provider = (
        (asset.get("provider") or "").strip() if isinstance(asset.get("provider"), str) else ""
    )
    credit = f"{producer}/{provider}" if producer and provider else producer or provider
    image = {
        "url": enclosure.get("href"),
        "width": enclosure.get("width"),
        "height": enclosure.get("height"),
        "caption": html_to_text(asset["caption"])
        if isinstance(asset.get("caption"), str)
        else None,
        "alt": asset.get("altText"),
        "credit": credit,
    }
    return {k: v for k, v in image.items() if v is not None and v != ""}


def _audio(doc: dict) -> list[dict]:
    audio = []
    for link in _links(doc, "audio"):
        if "premium" in _rels(link):
            continue
        asset = _asset(doc, link)
        if asset is None or asset.get("isAvailable") is False:
            continue
        enclosures = [e for e in _links(asset, "enclosures") if isinstance(e.get("href"), str)]
        mp3 = next((e for e in enclosures if e.get("type") == "audio/mpeg"), None)
        enclosure = mp3 or next(
            (e for e in enclosures if str(e.get("type", "")).startswith("audio/")), None
        )
        embed = _href(asset.get("embeddedPlayerLink"))
        if enclosure is None and embed is None:
            continue  # nothing to play, nothing to embed
        item = {
            "id": asset.get("id"),
            "url": enclosure.get("href") if enclosure else None,
            "type": enclosure.get("type") if enclosure else None,
            "length": enclosure.get("fileSize") if enclosure else None,
            "duration": asset.get("duration"),
            "embed": embed,
            "transcript_url": _href(asset.get("transcriptWebPageLink")),
            # Permissions travel with the record: a missing one is read as "no".
            "downloadable": bool(asset.get("isDownloadable", False)),
            "embeddable": bool(asset.get("isEmbeddable", False)),
        }
        audio.append({k: v for k, v in item.items() if v is not None and v != ""})
    return audio
