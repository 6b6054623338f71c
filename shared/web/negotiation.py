"""Whether a request wants a page or a document, decided once for every route and every error."""

HTML_TYPES = ("text/html", "application/xhtml+xml")


def prefers_html(accept: str | None) -> bool:
    """HTML only when the client ranks it above JSON.

    JSON stays the default (no header, `*/*`, application/json or ld+json, or a tie), so programs
    and verifiers that follow a link keep getting the document itself; a browser
    (`text/html,...,*/*;q=0.8`) gets the page.
    """
    html_q = json_q = 0.0
    for part in (accept or "").split(",")[:32]:
        media_type, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media_type = media_type.lower()
        if media_type in HTML_TYPES:
            html_q = max(html_q, quality)
        elif media_type in ("*/*", "application/*") or "json" in media_type or media_type == "application/vc+jwt":
            json_q = max(json_q, quality)
    return html_q > 0 and html_q > json_q
