"""The CrossGuard policy pack (issue 6). `prodstack check` runs it as one more checker
(infra/render/check.py: `extra_checkers`)."""
