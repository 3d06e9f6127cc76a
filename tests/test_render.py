"""Notice PDFs are rendered in child processes: the process that asks stays small."""
import os
import signal
import subprocess
import sys
import textwrap
import time

PROBE = textwrap.dedent("""
    import sys
    from bianzhi.notices import render
    html = ('<html><head><style>body { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif }'
            ' th { font-family: "Noto Sans CJK SC"; font-weight: bold }</style></head><body>'
            '<h1>空编使用审核表</h1><table><tr><th>单位名称</th><td>区疾病预防控制中心</td></tr></table>'
            + '<p>编制核定，同意使用空编，按程序办理。</p>' * 50 + '</body></html>')
    pdfs = [render.render(html) for _ in range(3)]
    assert all(p.startswith(b"%PDF-") and len(p) > 1000 for p in pdfs)
    # VmHWM: this process's own peak (ru_maxrss may carry the parent's over the exec)
    peak = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")).split()[1]
    print("weasyprint" in sys.modules, int(peak) // 1024)
""")


def test_a_render_runs_in_a_child_and_the_asking_process_stays_small():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    loaded, peak_mb = out.stdout.split()
    assert loaded == "False"  # WeasyPrint (and the fonts it subsets) never came into this process
    # measured: ~140 MB so; the same three renders in this process peak at ~400 MB
    assert int(peak_mb) < 250, peak_mb


STARTER = textwrap.dedent("""
    import multiprocessing.forkserver, sys, time
    from bianzhi.notices import render
    if __name__ == "__main__":
        assert render.render("<p>通知书</p>").startswith(b"%PDF-")
        render._executor().submit(time.sleep, 120)  # a child of the fork server for sure, busy
        print(multiprocessing.forkserver._forkserver._forkserver_pid, flush=True)
        time.sleep(120)
""")


def _stat(pid):
    """The fields of /proc/PID/stat after the command name: [state, ppid, …]."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = _stat(entry)
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry))
    return out


def _running(pid):
    """Alive and not a zombie (an exited process whose parent, here PID 1, has not reaped it)."""
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def test_the_fork_server_and_its_children_exit_with_the_process_that_started_them():
    starter = subprocess.Popen([sys.executable, "-c", STARTER], stdout=subprocess.PIPE, text=True)
    try:
        server = int(starter.stdout.readline())
        deadline = time.monotonic() + 30
        while not _children(server) and time.monotonic() < deadline:  # the busy child
            time.sleep(0.1)
        children = _children(server)
        assert children and _running(server)
    finally:
        starter.kill()  # SIGKILL: no atexit, no pool shutdown
        starter.wait()
        starter.stdout.close()
    deadline = time.monotonic() + 5
    while any(_running(pid) for pid in [server, *children]) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in [server, *children] if _running(pid)]
    for pid in left:  # do not leave them behind when the test fails
        os.kill(pid, signal.SIGKILL)
    assert left == []
