"""Printed documents: receipts through a fast PDF path (ReportLab canvas)
with the payment QR code."""
