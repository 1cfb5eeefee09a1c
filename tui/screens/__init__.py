"""Dialogs and full-screen views."""
