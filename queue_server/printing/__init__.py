"""Ticket printing on the server, in four parts:

- ``jobs``: the print-job state machine, sans I/O (jobs, every decision; time passed in), with
  ``printers`` (each printer's state, also sans I/O);
- ``service``: ``PrintService``, which runs it for one office (store writes, workers, status polls);
- ``agent_link``: the server's end of the print-agent WebSocket (``printer.protocol`` messages);
- ``routes``: the HTTP and WebSocket routes and their OpenAPI description.
"""
