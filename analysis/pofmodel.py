#!/usr/bin/python3
"""pof model files (include/pof/ckpt.h, format version 1) <-> PyTorch WRN state dicts.

Shared by torch_import.py and torch_export.py. The file is written exactly as pof_ckpt_write lays
it out: /params double[n_params] (arena order of tests/ref/WRN_LAYOUT.md), /bn_running
float[n_bn_state], no /momentum and no /theta0 (have_momentum = have_theta0 = 0), one attribute
of "/" per PofCkptMeta field (integers int64 scalars, reals double, milestones int64[16], strings
fixed-length NUL-terminated), format_version, n_theta0, writer, the zlib CRC-32 of every dataset's
little-endian bytes (0 for an absent one) and complete = 1 written last. It is written to
<path>.tmp.<pid> and renamed when complete, like pof does. Like pof's, the file has a /tensors
group: one dataset per PyTorch state_dict entry (pof_torch.WRN's names and shapes), HDF5 virtual
datasets of the /params and /bn_running slices, and int64 num_batches_tracked = global_step
(read_tensors reads them back)."""
import collections
import json
import os
import pickle
import re
import zlib

import numpy as np

FORMAT_VERSION = 1
MAX_MILESTONES = 16
SCHEDULES = {"step": 0, "cosine": 1, "const": 2}
INT_ATTRS = ["depth", "width", "base", "in_c", "in_h", "in_w", "classes", "n_params", "n_feature",
             "n_bn_state", "epochs_done", "step_in_epoch", "global_step", "seed", "ranks", "schedule",
             "nmilestones", "warmup_epochs", "schedule_epochs", "run_start_epoch", "have_momentum",
             "have_theta0"]
REAL_ATTRS = ["lr_base", "lr_factor"]
STR_ATTRS = {"dataset": 64, "kind": 16, "options_json": 16384}  # pof's buffer sizes (with the NUL)


class ModelError(Exception):
    pass


def crc32(a, dtype):
    return zlib.crc32(np.ascontiguousarray(a, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()) & 0xFFFFFFFF


def _str_attr(h5py, obj, name, s):
    b = s.encode()
    if b"\0" in b:
        raise ModelError(f"attribute {name}: string contains a NUL byte")
    tid = h5py.h5t.C_S1.copy()
    tid.set_size(len(b) + 1)
    tid.set_strpad(h5py.h5t.STR_NULLTERM)
    sid = h5py.h5s.create(h5py.h5s.SCALAR)
    aid = h5py.h5a.create(obj.id, name.encode(), tid, sid)
    aid.write(np.array(b + b"\0", dtype=f"S{len(b) + 1}"), mtype=tid)


def write_model(path, meta, params, running):
    """meta: dict of every PofCkptMeta field (milestones as a list); params float64, running float32."""
    import h5py
    params = np.ascontiguousarray(params, dtype="<f8").reshape(-1)
    running = np.ascontiguousarray(running, dtype="<f4").reshape(-1)
    if params.size != meta["n_params"] or running.size != meta["n_bn_state"]:
        raise ModelError(f"arena sizes {params.size}/{running.size} differ from n_params {meta['n_params']} / n_bn_state {meta['n_bn_state']}")
    for k, n in STR_ATTRS.items():
        if len(meta[k].encode()) + 1 > n:
            raise ModelError(f"{k} is longer than the {n - 1} bytes pof keeps")
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs.create("format_version", FORMAT_VERSION, dtype="<i8")
            _str_attr(h5py, f, "writer", "pof analysis/torch_import.py")
            for k in INT_ATTRS[:7]:
                f.attrs.create(k, int(meta[k]), dtype="<i8")
            _str_attr(h5py, f, "dataset", meta["dataset"])
            for k in ("n_params", "n_feature", "n_bn_state"):
                f.attrs.create(k, int(meta[k]), dtype="<i8")
            _str_attr(h5py, f, "kind", meta["kind"])
            for k in ("epochs_done", "step_in_epoch", "global_step", "seed", "ranks"):
                f.attrs.create(k, int(meta[k]), dtype="<i8")
            for k in REAL_ATTRS:
                f.attrs.create(k, float(meta[k]), dtype="<f8")
            f.attrs.create("schedule", int(meta["schedule"]), dtype="<i8")
            ms = list(meta["milestones"])
            if len(ms) > MAX_MILESTONES:
                raise ModelError(f"at most {MAX_MILESTONES} milestones")
            f.attrs.create("milestones", np.array(ms + [0] * (MAX_MILESTONES - len(ms)), dtype="<i8"))
            f.attrs.create("nmilestones", len(ms), dtype="<i8")
            for k in ("warmup_epochs", "schedule_epochs", "run_start_epoch"):
                f.attrs.create(k, int(meta[k]), dtype="<i8")
            f.attrs.create("have_momentum", 0, dtype="<i8")
            f.attrs.create("have_theta0", 0, dtype="<i8")
            _str_attr(h5py, f, "options_json", meta["options_json"])
            f.attrs.create("n_theta0", int(meta["n_params"] - meta["n_feature"]), dtype="<i8")
            f.create_dataset("params", data=params, dtype="<f8")
            f.create_dataset("bn_running", data=running, dtype="<f4")
            for k, v in (("crc32_params", crc32(params, "f8")), ("crc32_momentum", 0),
                         ("crc32_bn_running", crc32(running, "f4")), ("crc32_theta0", 0)):
                f.attrs.create(k, int(v), dtype="<i8")
            write_tensors(f, meta)
            f.attrs.create("complete", 1, dtype="<i8")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_tensors(f, meta):
    """/tensors in the open h5py file f, as pof writes it (src/io/tensors.c): virtual datasets
    mapping the state_dict names onto /params (float64) and /bn_running (float32) of the same
    file, and num_batches_tracked = global_step per BN."""
    import h5py
    import pof_torch as pt
    g = f.create_group("tensors")
    off = 0
    src = h5py.VirtualSource(".", "params", shape=(int(meta["n_params"]),), dtype="<f8")
    for name, shape in pt.canonical_layout(meta["depth"], meta["width"], meta["base"], meta["in_c"], meta["classes"]):
        n = int(np.prod(shape))
        lay = h5py.VirtualLayout(shape=tuple(shape), dtype="<f8")
        lay[...] = src[off:off + n]
        g.create_virtual_dataset(name, lay)
        off += n
    off = 0
    src = h5py.VirtualSource(".", "bn_running", shape=(int(meta["n_bn_state"]),), dtype="<f4")
    for bn, c in pt.canonical_bn_layout(meta["depth"], meta["width"], meta["base"]):
        for stat in ("running_mean", "running_var"):
            lay = h5py.VirtualLayout(shape=(c,), dtype="<f4")
            lay[...] = src[off:off + c]
            g.create_virtual_dataset(f"{bn}.{stat}", lay)
            off += c
        g.create_dataset(f"{bn}.num_batches_tracked", data=np.int64(meta["global_step"]))


def read_tensors(path):
    """{state_dict name: numpy array} from the /tensors group of a pof model file (read_model
    checks the file and its checksums; this reads the views)."""
    import h5py
    with h5py.File(path, "r") as f:
        if "tensors" not in f:
            raise ModelError(f"{path} has no /tensors group (written by a pof before /tensors: use read_model)")
        return {k: np.asarray(v[()]) for k, v in f["tensors"].items()}


def _a(f, name, path):
    if name not in f.attrs:
        raise ModelError(f"{path} lacks the attribute '{name}' (not a pof model file?)")
    v = f.attrs[name]
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.shape != ():
        return [int(x) for x in v]
    return v.item() if hasattr(v, "item") else v


def read_model(path):
    """(meta dict, params float64, running float32, theta0 float64 or None), after the checks pof
    makes: signature, format version, complete mark, dataset sizes and CRC-32 checksums."""
    import h5py
    if not os.path.exists(path):
        raise ModelError(f"{path} does not exist")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ModelError(f"{path} is not a readable HDF5 file: {e}") from None
    with f:
        if "format_version" not in f.attrs:
            raise ModelError(f"{path} is not a pof model file (no 'format_version' attribute)")
        if int(_a(f, "format_version", path)) != FORMAT_VERSION:
            raise ModelError(f"{path} has format version {_a(f, 'format_version', path)}, this script reads {FORMAT_VERSION}")
        if int(f.attrs.get("complete", 0)) != 1:
            raise ModelError(f"{path} is incomplete (no 'complete' mark)")
        meta = {k: _a(f, k, path) for k in INT_ATTRS + REAL_ATTRS + list(STR_ATTRS) + ["milestones", "n_theta0"]}
        data = {}
        for name, dt, n, crc in (("params", "f8", meta["n_params"], "crc32_params"),
                                 ("bn_running", "f4", meta["n_bn_state"], "crc32_bn_running"),
                                 ("theta0", "f8", meta["n_theta0"] if meta["have_theta0"] else None, "crc32_theta0")):
            if n is None:
                continue
            if name not in f:
                raise ModelError(f"{path} has no dataset /{name}")
            v = np.asarray(f[name], dtype=dt)
            if v.shape != (n,):
                raise ModelError(f"{path}: /{name} has shape {v.shape}, expected ({n},)")
            if crc32(v, dt) != int(_a(f, crc, path)) & 0xFFFFFFFF:
                raise ModelError(f"{path} is corrupt: /{name} does not match its CRC-32")
            data[name] = v
    return meta, data["params"], data["bn_running"], data.get("theta0")


# ---- state dicts ----------------------------------------------------------------------------------

# The reference code (DensoITLab/PoF-v1, facts only) names blocks layer{s}.num_{j}.* and the final BN
# bn_out, keeps the classifier as classifiers.0.{weight,bias}, and saves fet_<epoch>.pth /
# clf_<epoch>.pth as {"param": state_dict, "optim": optimizer state}.
_TO_CANON = [(re.compile(r"^layer(\d+)\.num_(\d+)\."), r"layer\1.\2."), (re.compile(r"^bn_out\."), "bn1.")]
_TO_REF = [(re.compile(r"^layer(\d+)\.(\d+)\."), r"layer\1.num_\2."), (re.compile(r"^bn1\."), "bn_out.")]


def _rename(sd, rules):
    out = collections.OrderedDict()
    for k, v in sd.items():
        for rx, rep in rules:
            k = rx.sub(rep, k)
        if k in out:
            raise ModelError(f"two tensors map to the name {k} (mixed layouts?)")
        out[k] = v
    return out


def to_canonical(sd):
    """Reference-code names -> the names of tests/ref/WRN_LAYOUT.md (canonical names stay)."""
    return _rename(sd, _TO_CANON)


def to_reference(sd):
    """Canonical feature-extractor names -> the reference code's names."""
    return _rename(sd, _TO_REF)


def strip_module(sd):
    """Drop leading 'module.' prefixes (DataParallel / DistributedDataParallel) and num_batches_tracked."""
    out = collections.OrderedDict()
    for k, v in sd.items():
        while k.startswith("module."):
            k = k[len("module."):]
        if k.endswith("num_batches_tracked"):
            continue
        out[k] = v
    return out


# The globals a file of weights needs: containers and torch's tensor rebuilders (storages are
# mapped by torch.load itself). Nothing that runs code of the file's choosing.
_WEIGHT_GLOBALS = {("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"),
                   ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
                   ("torch", "Size"), ("torch", "device")}


class _WeightsUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _WEIGHT_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed in a file of weights")


class _weights_pickle:  # a pickle_module for torch.load: the allowlist above
    Unpickler = _WeightsUnpickler

    @staticmethod
    def load(f, **kw):
        return _WeightsUnpickler(f, **kw).load()


def torch_load_weights(path, torch):
    """torch.load of a file of weights only: tensors, numbers, strings and containers. First with
    torch's weights_only=True; torch 1.13's weights-only unpickler also refuses plain floats (pickle
    opcode BINFLOAT, e.g. the learning rate in an optimizer state such as the reference code's
    {"param", "optim"} files), so such a file is read again with an unpickler that allows the same
    globals as that one and every opcode. Either way a pickled object of another class (a module,
    code that runs when unpickled) raises pickle.UnpicklingError before any of it is built."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Unsupported operand" not in str(e):
            raise
    # torch.load ignores pickle_module unless weights_only (1.13: "else: pickle_module = pickle"),
    # so the zip file's pickle goes through torch's own _load with the allowlist unpickler
    ser = torch.serialization
    if not all(hasattr(ser, f) for f in ("_open_file_like", "_is_zipfile", "_open_zipfile_reader", "_load")):
        raise pickle.UnpicklingError("this torch cannot read the file with weights only")
    with ser._open_file_like(path, "rb") as f:
        if not ser._is_zipfile(f):
            raise pickle.UnpicklingError("a file in torch's legacy (pre-1.6) format cannot be read with weights only")
        with ser._open_zipfile_reader(f) as z:
            return ser._load(z, "cpu", _weights_pickle, encoding="utf-8")


def load_pt(path, torch):
    """The state dict of a PyTorch file, read with torch_load_weights: a file that pickles
    anything but weights is refused before any of its objects is built, so a file from elsewhere
    cannot execute code here."""
    if not os.path.exists(path):
        raise ModelError(f"{path} does not exist")
    try:
        obj = torch_load_weights(path, torch)
    except pickle.UnpicklingError as e:
        raise ModelError(f"{path} holds pickled objects other than weights (refused unread, as loading them could run "
                         f"code; save the model's state_dict() instead): {e}") from None
    except Exception as e:  # noqa: BLE001 (torch raises many kinds)
        raise ModelError(f"cannot read {path} as a PyTorch file: {e}") from None
    for wrapper in ("param", "state_dict"):  # the reference code's {"param", "optim"}, common {"state_dict"}
        if isinstance(obj, dict) and isinstance(obj.get(wrapper), dict):
            obj = obj[wrapper]
            break
    if not isinstance(obj, dict):
        raise ModelError(f"{path} does not hold a state dict (got {type(obj).__name__})")
    return strip_module(obj)


def classifier_from(sd, path):
    """(weight, bias) of a classifier state dict: keys weight/bias, or exactly one
    <prefix>.weight / <prefix>.bias pair (e.g. linear., fc., classifier.)."""
    if "weight" in sd and "bias" in sd and len(sd) == 2:
        return sd["weight"], sd["bias"]
    ws = [k for k in sd if k.endswith(".weight")]
    bs = [k for k in sd if k.endswith(".bias")]
    if len(ws) == 1 and len(bs) == 1 and ws[0][:-6] == bs[0][:-4] and len(sd) == 2:
        return sd[ws[0]], sd[bs[0]]
    raise ModelError(f"{path}: a classifier state dict must hold one weight and one bias, it has keys {sorted(sd)}")


def infer_shape(feat, path):
    """depth, width, base, in_c from the feature extractor's conv shapes."""
    if "conv1.weight" not in feat:
        raise ModelError(f"{path}: no conv1.weight (expected the WRN names of tests/ref/WRN_LAYOUT.md)")
    w = feat["conv1.weight"]
    if w.dim() != 4:
        raise ModelError(f"{path}: conv1.weight has shape {tuple(w.shape)}, expected 4 dimensions")
    base, in_c = int(w.shape[0]), int(w.shape[1])
    n = len({m.group(1) for k in feat if (m := re.match(r"layer1\.(\d+)\.conv1\.weight$", k))})
    if n < 1 or "layer1.0.conv1.weight" not in feat:
        raise ModelError(f"{path}: no layer1.0.conv1.weight: not a WRN feature extractor in pof's layout")
    w1 = int(feat["layer1.0.conv1.weight"].shape[0])
    if w1 % base:
        raise ModelError(f"{path}: layer1 width {w1} is not a multiple of the base width {base}")
    return 6 * n + 4, w1 // base, base, in_c


def check_no_conv_bias(sd, path):
    bad = [k for k in sd if k.endswith(".bias") and re.search(r"(conv\d*|shortcut\.\d+)\.bias$", k)]
    if bad:
        raise ModelError(f"{path}: convolution biases {', '.join(bad[:4])}{' ...' if len(bad) > 4 else ''}: "
                         "pof's convolutions have no bias (POF.md), so this model cannot be imported")


def options_json(d):
    return json.dumps(d, separators=(",", ":"))
