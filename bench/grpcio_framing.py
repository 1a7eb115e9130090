#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What a Python grpcio client pays for a token stream, by how the server
frames it: a hand-written HTTP/2 server (child process) streams 2000
LLMStreamResponse tokens (1) one DATA frame and one write per message,
(2) one frame per message but all in one write, (3) all messages packed
in 16 KiB DATA frames, or (4) k tokens joined per message; the client's
CPU time (this process, all grpcio threads) per stream is the measure,
which the machine's load changes little. Decides between sharing frames
and coalescing messages for AnalyzeTextStream (bench/RESULTS.md).

    bench/grpcio_framing.py
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STUBS = os.environ.get("OCRPC_BENCH_STUBS") or tempfile.mkdtemp(prefix="ocrpc-framing-")
if not os.environ.get("OCRPC_BENCH_STUBS"):
    sys.path.insert(0, HERE)
    import llm_stream
    llm_stream.gen_stubs(STUBS)
    os.environ["OCRPC_BENCH_STUBS"] = STUBS
sys.path.insert(0, STUBS)
import grpc  # noqa: E402
import hpack  # noqa: E402
import llm_pb2  # noqa: E402
import llm_pb2_grpc  # noqa: E402

def frame(kind, flags, sid, payload):
    return len(payload).to_bytes(3,'big')+bytes([kind,flags])+sid.to_bytes(4,'big')+payload

def msg(tok):
    b = llm_pb2.LLMStreamResponse(token=tok).SerializeToString()
    return b'\0'+len(b).to_bytes(4,'big')+b

MODE = {}
def serve(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    enc = hpack.Encoder(); dec = hpack.Decoder()
    buf = b''
    def need(n):
        nonlocal buf
        while len(buf) < n:
            d = conn.recv(65536)
            if not d: raise EOFError
            buf += d
    need(24); buf = buf[24:]
    conn.sendall(frame(4,0,0,(4).to_bytes(2,'big')+(1<<30).to_bytes(4,'big'))+frame(8,0,0,((1<<30)-65535).to_bytes(4,'big')))
    while True:
        need(9); ln=int.from_bytes(buf[:3],'big'); kind,flags=buf[3],buf[4]; sid=int.from_bytes(buf[5:9],'big')&0x7fffffff
        need(9+ln); pl=buf[9:9+ln]; buf=buf[9+ln:]
        if kind==4 and not flags&1: conn.sendall(frame(4,1,0,b''))
        if kind==6 and not flags&1: conn.sendall(frame(6,1,0,pl))
        if kind==1:
            h = dec.decode(pl if not flags&0x20 else pl[5:])
        if kind==0 and flags&1:
            mode, n, k = MODE['m']
            toks = ['t%d ' % i for i in range(n)]
            conn.sendall(frame(1,4,sid,enc.encode([(':status','200'),('content-type','application/grpc')])))
            if mode=='sep':   # one frame + one send per token
                for t in toks: conn.sendall(frame(0,0,sid,msg(t)))
            elif mode=='frames1': # one frame per token, all in one send
                conn.sendall(b''.join(frame(0,0,sid,msg(t)) for t in toks))
            elif mode=='onedata': # all messages in few DATA frames
                data=b''.join(msg(t) for t in toks)
                out=b''
                for i in range(0,len(data),16384): out+=frame(0,0,sid,data[i:i+16384])
                conn.sendall(out)
            elif mode=='merge': # k tokens per message, each own send
                for i in range(0,n,k): conn.sendall(frame(0,0,sid,msg(''.join(toks[i:i+k]))))
            conn.sendall(frame(0,0,sid,msg_complete())+frame(1,5,sid,enc.encode([('grpc-status','0')])))
def msg_complete():
    b = llm_pb2.LLMStreamResponse(is_complete=True).SerializeToString()
    return b'\0'+len(b).to_bytes(4,'big')+b

if sys.argv[1:]==['srv']:
    ls = socket.socket(); ls.bind(('127.0.0.1',0)); ls.listen()
    print(ls.getsockname()[1], flush=True)
    def acc():
        while True:
            c,_ = ls.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=acc, daemon=True).start()
    for line in sys.stdin:
        m,n,k=line.split(); MODE['m']=(m,int(n),int(k)); print('ok',flush=True)
    sys.exit(0)
p=subprocess.Popen(['/usr/bin/python3',os.path.abspath(__file__),'srv'],stdin=subprocess.PIPE,stdout=subprocess.PIPE,text=True)
port=int(p.stdout.readline())
stub = llm_pb2_grpc.LLMServiceStub(grpc.insecure_channel('127.0.0.1:%d'%port))
req = llm_pb2.LLMRequest(text='x')
N=2000
for mode,k in [('sep',1),('frames1',1),('onedata',1),('merge',2),('merge',4),('merge',8),('merge',50)]:
    p.stdin.write('%s %d %d\n'%(mode,N,k)); p.stdin.flush(); p.stdout.readline()
    res=[]
    for r in range(6):
        c0=time.process_time(); t0=time.perf_counter()
        it=stub.AnalyzeTextStream(req, timeout=120)
        s=next(it).token
        t1=time.perf_counter()
        s+=''.join(m.token for m in it)
        res.append((time.process_time()-c0, time.perf_counter()-t0, t1-t0))
        assert s==''.join('t%d '%i for i in range(N))
    res=res[1:]
    cpu=sorted(x[0] for x in res)[2]; wall=sorted(x[1] for x in res)[2]
    first=sorted(x[2] for x in res)[2]
    print('%-8s k=%d  client cpu %.1f ms (%.1f us/tok)  wall %.1f ms  first message %.2f ms'
          % (mode,k,cpu*1e3,cpu*1e6/N,wall*1e3,first*1e3))
p.stdin.close()
p.terminate()
p.wait()
shutil.rmtree(STUBS, ignore_errors=True)
