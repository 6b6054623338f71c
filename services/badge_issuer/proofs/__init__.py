"""Proofs for Open Badges 3.0 credentials: Data Integrity (eddsa-rdfc-2022 signed; more suites read) and VC-JWT.

Pure library (no web framework, no database): ``keys`` (key pairs, multikey, did:key,
JWK), ``document_loader`` (static JSON-LD contexts), ``canonicalization`` and ``rdfc``
(RDFC-1.0), ``data_integrity`` (with ``ecdsa_sd`` for selective disclosure) and ``vc_jwt``.
"""
