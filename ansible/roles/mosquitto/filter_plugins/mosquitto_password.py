"""mosquitto_password: a password_file line for Mosquitto 2, made without mosquitto_passwd.

mosquitto_passwd salts each hash at random, so the file it writes changes on every run and the role
could never be idempotent. Here the salt is derived from the user name and the password themselves:
the same credential always gives the same line, a changed password gives a new one, and two users
with the same password still get different salts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib

from ansible.errors import AnsibleFilterError

# Mosquitto 2's own format: $7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512>, 12-byte salt.
ITERATIONS = 101
SALT_BYTES = 12


def mosquitto_password(password, username):
    if not isinstance(password, str) or not password:
        raise AnsibleFilterError("mosquitto_password: the password for %r is empty" % (username,))
    if not isinstance(username, str) or not username or ":" in username:
        raise AnsibleFilterError("mosquitto_password: %r is not a usable MQTT user name" % (username,))
    secret = password.encode("utf-8")
    salt = hashlib.sha256(b"lawbox-mosquitto\0" + username.encode("utf-8") + b"\0" + secret).digest()[:SALT_BYTES]
    digest = hashlib.pbkdf2_hmac("sha512", secret, salt, ITERATIONS)
    return "%s:$7$%d$%s$%s" % (
        username,
        ITERATIONS,
        base64.b64encode(salt).decode("ascii"),
        base64.b64encode(digest).decode("ascii"),
    )


class FilterModule(object):
    def filters(self):
        return {"mosquitto_password": mosquitto_password}
