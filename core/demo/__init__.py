"""The offline demo: real music21 scores rendered through a GM SoundFont, plus its build pipeline."""
