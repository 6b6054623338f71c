-- Each service owns its database (POSTGRES_DB is the taxonomy's): run once, when the volume is new.
CREATE DATABASE credstack_issuer;
CREATE DATABASE credstack_gap;
