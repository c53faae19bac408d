"""Thin aiogram routers, one module per capability (`router()` makes a fresh Router each call: a Router can
be attached to one parent only, and tests build many dispatchers). Which routers exist, and in what order,
is the feature registry's business (bot/features.py); shared pieces live in handlers/ui/."""
