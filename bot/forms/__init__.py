"""Multi-step forms: a typed draft plus a step graph (bot/forms/engine.py), and each form as a description
over it (bot/forms/report.py, …). No aiogram here: the routers render the steps and feed the answers in."""
