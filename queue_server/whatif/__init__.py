"""Staffing what-if: replay recorded office days through the real queue engine under other
counter plans, measure the waits each plan would have given, and recommend plans.

The parts, from the data to the leader:

- ``record``: reads what happened on recorded days from the database (arrivals, transfers,
  each visit's duration at a counter, counter opening times) into plain values.
- ``plan``: the plan file (``PLAN.toml``) and the variant plans it describes, validated with
  the key named in every error.
- ``sim``: the replay itself, pure like the engine: a virtual clock, simulated clerks who
  press Next when free, and the same ``Engine`` the server runs.
- ``measure``: waits, queue lengths and utilisation, for a replay and for the recorded day.
- ``search``: the bounded local search behind ``--recommend``.
- ``runner``: puts them together for the CLI and the admin screen; ``export``: JSON, CSV, XLSX.
"""
