"""Domain services: plain async functions over an AsyncSession. No aiogram imports here."""
