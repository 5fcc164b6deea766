"""One module per AWS service; each exports ``HANDLERS``: type token -> handler."""
