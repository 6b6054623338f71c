"""Open Badges 2.0 (IMS Final Release 2018): verifying hosted and signed assertions someone shows.

The service issues Open Badges 3.0 only; this package lets its public verifier read the OB 2.0
badges people already hold. Domain code: no FastAPI, documents fetched only through the guarded
fetcher (shared/safe_fetch.py).
"""

from services.badge_issuer.ob2.documents import OB2_CONTEXT
from services.badge_issuer.ob2.verifier import is_ob2_presented, verify_ob2_badge

__all__ = ["OB2_CONTEXT", "is_ob2_presented", "verify_ob2_badge"]
