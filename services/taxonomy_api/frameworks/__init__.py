"""External frameworks in and out: each reader turns a framework's files into a Bundle (bundle.py),
which one applier lands in the organisation's draft (apply.py); writers turn a version back out."""
