"""Minimal pcap/pcapng reading and packet addressing for the integration checks.

Only the Python standard library: the tests must run on a fresh Debian 12 with
the packages scripts/setup.sh installs, and no PyPI.
"""
import gzip
import struct


def read_pcap(path):
    """Yield (ts_ns, data, wire_len, linktype) for each record of a pcap or
    pcapng file (gzip allowed)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        buf = f.read()
    if len(buf) < 24:
        return
    magic = struct.unpack("<I", buf[:4])[0]
    if magic == 0x0A0D0D0A:
        yield from _read_pcapng(buf)
        return
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        end = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        end = ">"
    else:
        raise ValueError(f"{path}: not a pcap file")
    nano = struct.unpack(end + "I", buf[:4])[0] == 0xA1B23C4D
    linktype = struct.unpack(end + "I", buf[20:24])[0]
    off = 24
    while off + 16 <= len(buf):
        sec, frac, caplen, wire = struct.unpack(end + "IIII", buf[off:off + 16])
        off += 16
        if off + caplen > len(buf):
            break  # truncated tail
        ts = sec * 1_000_000_000 + (frac if nano else frac * 1000)
        yield ts, buf[off:off + caplen], wire, linktype
        off += caplen


def _read_pcapng(buf):
    off = 0
    ifaces = []
    end = "<"
    while off + 12 <= len(buf):
        btype, blen = struct.unpack(end + "II", buf[off:off + 8])
        if btype == 0x0A0D0D0A:
            bom = buf[off + 8:off + 12]
            end = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            btype, blen = struct.unpack(end + "II", buf[off:off + 8])
            ifaces = []
        if blen < 12 or off + blen > len(buf):
            break
        body = buf[off + 8:off + blen - 4]
        if btype == 1:
            linktype = struct.unpack(end + "H", body[:2])[0]
            tsres = 6
            o = 8
            while o + 4 <= len(body):
                code, ln = struct.unpack(end + "HH", body[o:o + 4])
                if code == 0:
                    break
                if code == 9 and ln >= 1:
                    tsres = body[o + 4]
                o += 4 + ((ln + 3) & ~3)
            ifaces.append((linktype, tsres))
        elif btype == 6:
            iface, hi, lo, caplen, wire = struct.unpack(end + "IIIII", body[:20])
            linktype, tsres = ifaces[iface]
            t = (hi << 32) | lo
            if tsres & 0x80:
                ns = t * 1_000_000_000 // (2 ** (tsres & 0x7F))
            else:
                ns = t * 1_000_000_000 // (10 ** tsres)
            yield ns, body[20:20 + caplen], wire, linktype
        off += blen


def flow_of(data):
    """Canonical conversation of an Ethernet frame: (proto, (a, pa), (b, pb), vlans),
    or ('frag', src, dst, id) for a non-first fragment, or None."""
    if len(data) < 14:
        return None
    et = struct.unpack(">H", data[12:14])[0]
    off = 14
    vlans = []
    while et in (0x8100, 0x88A8, 0x9100) and off + 4 <= len(data):
        vlans.append(struct.unpack(">H", data[off:off + 2])[0] & 0xFFF)
        et = struct.unpack(">H", data[off + 2:off + 4])[0]
        off += 4
    if et in (0x8847, 0x8848):
        while off + 4 <= len(data):
            bos = data[off + 2] & 1
            off += 4
            if bos:
                break
        if off < len(data):
            et = 0x0800 if data[off] >> 4 == 4 else 0x86DD
    vl = tuple(vlans[:2])
    if et == 0x0800 and off + 20 <= len(data):
        ihl = (data[off] & 0xF) * 4
        proto = data[off + 9]
        src, dst = data[off + 12:off + 16], data[off + 16:off + 20]
        frag = struct.unpack(">H", data[off + 6:off + 8])[0]
        if frag & 0x1FFF:
            ident = struct.unpack(">H", data[off + 4:off + 6])[0]
            return ("frag", min(src, dst), max(src, dst), ident)
        l4 = off + ihl
    elif et == 0x86DD and off + 40 <= len(data):
        nh = data[off + 6]
        src, dst = data[off + 8:off + 24], data[off + 24:off + 40]
        l4 = off + 40
        while nh in (0, 43, 44, 60, 51, 135) and l4 + 8 <= len(data):
            if nh == 44:
                fo = struct.unpack(">H", data[l4 + 2:l4 + 4])[0]
                if fo & 0xFFF8:
                    return ("frag", min(src, dst), max(src, dst), data[l4 + 4:l4 + 8])
                nh = data[l4]
                l4 += 8
                continue
            hl = (data[l4 + 1] + 2) * 4 if nh == 51 else (data[l4 + 1] + 1) * 8
            nh = data[l4]
            l4 += hl
        proto = nh
    else:
        return None
    if proto not in (6, 17) or l4 + 4 > len(data):
        return None
    sp, dp = struct.unpack(">HH", data[l4:l4 + 4])
    a, b = sorted([(src, sp), (dst, dp)])
    return (proto, a, b, vl)
