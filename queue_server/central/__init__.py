"""The central roll-up: one overview and combined reports over many independent office
servers (docs/central.md). Nothing in an office depends on it: it only reads each office's
sync feed (``queue_server.sync``) or imports its offline bundles."""
