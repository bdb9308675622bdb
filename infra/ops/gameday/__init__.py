"""Game days: fault drills against a running Docker stack, measured against its recovery
targets (`recovery.*`). `command.py` runs them; `drills.py` holds each drill; `live.py` finds
and breaks the stack's containers; `load.py` is the write load; `report.py` the results."""
