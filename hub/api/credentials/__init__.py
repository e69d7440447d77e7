"""Credentials: cards, keypad PINs, visitor passes and a resident's own signed QR and phone keys."""
