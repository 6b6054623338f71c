"""Open Badges 3.0 credentials: building them and checking them against the 1EdTech JSON Schema.

Import the modules directly (e.g. ``from services.badge_issuer.ob3 import schema_validation``), so
importing the package stays cheap and free of cycles.
"""
