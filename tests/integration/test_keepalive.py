# SPDX-License-Identifier: MIT
"""Connection policing with a raw HTTP/2 client (Debian's python3-h2), so
the test controls every frame: client PINGs faster than the policy allows
end in GOAWAY ENHANCE_YOUR_CALM "too_many_pings"; a peer that stops
answering keepalive PINGs is disconnected; an idle connection is closed
with GOAWAY when --max-connection-idle-ms is set. Waits are on socket
events with bounded timeouts, never fixed sleeps."""

import socket
import time
import unittest

import h2.config
import h2.connection
import h2.events

import harness

ENHANCE_YOUR_CALM = 0xB


class RawClient:
    def __init__(self, server, ack_pings=True):
        self.sock = socket.create_connection((server.host, server.port), timeout=30)
        cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=cfg)
        self.ack_pings = ack_pings
        self.pending = []
        self.conn.initiate_connection()
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def events(self, deadline):
        """Yields events until the peer closes (yields None) or the deadline.
        Events of one read that a caller did not consume wait for the next
        call, so breaking out of the loop loses nothing."""
        while self.pending:
            yield self.pending.pop(0)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no event before the deadline")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise AssertionError("no event before the deadline")
            except ConnectionResetError:
                data = b""
            if not data:
                yield None
                return
            self.pending.extend(self.conn.receive_data(data))
            while self.pending:
                yield self.pending.pop(0)
            if self.ack_pings:
                self.flush()
            else:
                # Swallow our automatic PING ACKs: a peer that went silent.
                self.conn.data_to_send()

    def close(self):
        self.sock.close()


class KeepaliveTest(unittest.TestCase):
    def start(self, *args):
        s = harness.Server(*args)
        s.start()
        self.addCleanup(s.stop)
        return s

    def test_too_many_pings_get_goaway_enhance_your_calm(self):
        server = self.start("--min-ping-interval-ms", "60000", "--max-ping-strikes", "2")
        c = RawClient(server)
        self.addCleanup(c.close)
        goaway = None
        pings_sent = 0
        deadline = time.monotonic() + 30
        for i in range(6):
            c.conn.ping(b"%08d" % i)
            pings_sent += 1
            c.flush()
            # Wait for this ping's ACK (or the GOAWAY) before the next one.
            for ev in c.events(deadline):
                if isinstance(ev, h2.events.ConnectionTerminated):
                    goaway = ev
                    break
                if isinstance(ev, h2.events.PingAckReceived) or ev is None:
                    break
            for ev in list(c.pending):
                if isinstance(ev, h2.events.ConnectionTerminated):
                    goaway = ev
            if goaway:
                break
        self.assertIsNotNone(goaway, "no GOAWAY after %d quick pings" % pings_sent)
        self.assertEqual(goaway.error_code, ENHANCE_YOUR_CALM)
        self.assertEqual(goaway.additional_data, b"too_many_pings")
        # First ping sets the clock, then two strikes are allowed: the fourth
        # ping is the third strike.
        self.assertEqual(pings_sent, 4)
        self.assertTrue(server.alive())

    def test_pings_within_policy_are_fine(self):
        server = self.start("--min-ping-interval-ms", "0")
        c = RawClient(server)
        self.addCleanup(c.close)
        deadline = time.monotonic() + 30
        for i in range(6):
            c.conn.ping(b"%08d" % i)
            c.flush()
            for ev in c.events(deadline):
                self.assertNotIsInstance(ev, h2.events.ConnectionTerminated)
                self.assertIsNotNone(ev, "server closed a well-behaved connection")
                if isinstance(ev, h2.events.PingAckReceived):
                    break

    def test_silent_peer_is_disconnected(self):
        # The answering peer below must ACK each ping within the timeout:
        # 5 s, so that a test process descheduled on a loaded machine is
        # not taken for a dead peer (200 ms was). The silent peer is then
        # dropped about 5 s after the first ping: waited for, bounded.
        server = self.start("--keepalive-time-ms", "200", "--keepalive-timeout-ms", "5000")
        silent = RawClient(server, ack_pings=False)
        self.addCleanup(silent.close)
        saw_ping = False
        for ev in silent.events(time.monotonic() + 60):
            if isinstance(ev, h2.events.PingReceived):
                saw_ping = True
            if ev is None:
                break
        self.assertTrue(saw_ping, "the server never sent a keepalive ping")
        # A peer that answers stays connected across several keepalive rounds.
        live = RawClient(server, ack_pings=True)
        self.addCleanup(live.close)
        pings = 0
        for ev in live.events(time.monotonic() + 60):
            self.assertIsNotNone(ev, "a peer answering pings was disconnected")
            if isinstance(ev, h2.events.PingReceived):
                pings += 1
                if pings == 3:
                    break
        self.assertTrue(server.alive())

    def test_idle_connection_gets_goaway(self):
        server = self.start("--max-connection-idle-ms", "300")
        c = RawClient(server)
        self.addCleanup(c.close)
        goaway = None
        for ev in c.events(time.monotonic() + 30):
            if isinstance(ev, h2.events.ConnectionTerminated):
                goaway = ev
            if ev is None:
                break
        self.assertIsNotNone(goaway)
        self.assertEqual(goaway.error_code, 0)
        self.assertTrue(server.alive())


if __name__ == "__main__":
    unittest.main()
