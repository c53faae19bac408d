"""UI pieces shared by the feature routers and the jobs: access filters, callback data, FSM states, the menu,
rendering helpers, locale/time helpers and the notices that jobs and handlers both send.

Feature routers (handlers/<feature>.py) and schedulers import from here and never from each other
(checked by import-linter, see pyproject.toml)."""
