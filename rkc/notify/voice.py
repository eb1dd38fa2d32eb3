"""Voice reminders: the spoken text rendered to a WAV file by espeak-ng,
and the call list the phone centre's autodialer reads."""
import csv
import os
import shutil
import subprocess

from .errors import ConfigError, DeliveryError

CALL_LIST_FIELDS = ('phone', 'account', 'text', 'audio')


class Espeak:
    "The speech synthesizer; like the other channels' settings, checkable."

    @staticmethod
    def check():
        program = shutil.which('espeak-ng')
        if program is None:
            raise ConfigError('no_espeak', 'espeak-ng is not installed')
        return program


def speak(text, path, voice='ru'):
    "Render ``text`` to the WAV file ``path``."
    done = subprocess.run([Espeak.check(), '-v', voice, '-w', str(path), text],
        capture_output=True, text=True, timeout=120)
    if done.returncode or not os.path.exists(path) \
            or not os.path.getsize(path):
        raise DeliveryError(f'espeak-ng failed: {done.stderr.strip()}')


def write_call_list(path, rows):
    """Write the call list (``CALL_LIST_FIELDS`` per row) in full, replacing
    the file at once so that the autodialer never reads half of it."""
    temporary = f'{path}.part'
    with open(temporary, 'w', newline='', encoding='utf-8') as file:
        writer = csv.writer(file)
        writer.writerow(CALL_LIST_FIELDS)
        writer.writerows(rows)
    os.replace(temporary, path)
