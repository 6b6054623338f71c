"""Pages people look at, built the same way in every service: Jinja2 templates that escape everything,
one stylesheet and script served by the service itself (the network may be closed: no CDN), a strict
Content-Security-Policy, HTML error pages for browsers, and the sign-in every page shares."""
