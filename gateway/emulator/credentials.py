"""Emulator: the fixed test credentials the emulator accepts by default (not secrets)."""

from typing import Final

EMULATOR_ACCESS_KEY_ID: Final = "AKIAEMULATOR0EXAMPLE"
EMULATOR_SECRET_ACCESS_KEY: Final = "emulator/secret/key/EXAMPLEKEY0000000000"
EMULATOR_REGION: Final = "us-east-1"
