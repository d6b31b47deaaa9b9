"""Ticket printing for motcua: render a ticket as a picture, send it to an ESC/POS printer.

- ``printer.render``: ``TicketInfo``, ``render_ticket`` (bundled DejaVu Sans, every
  Vietnamese letter), ``font_covers``.
- ``printer.connect``: ``open_printer`` for one printer URL (usb://, tcp://, serial://,
  file://, cups://, win32://, png://), ``PrinterConfigError``.
- ``printer.output``: ``print_ticket`` → ``PrintResult``, ``printer_status`` →
  ``PrinterStatus``, ``decode_raster``.
- ``printer.agent``: the ``motcua-printer`` program for a printer on another machine.
- ``printer.cli``: ``print_test`` behind ``motcua print-test``.

See docs/printing.md for setting printers up.
"""
