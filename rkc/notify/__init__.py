"""Reminders and notices to consumers: the texts (amounts and dates in
Russian words for the spoken ones), quiet hours, and the channels — e-mail
over SMTP, SMS through an HTTP gateway, and voice (espeak-ng audio plus a
call list for the phone centre's autodialer). No Tryton here."""
