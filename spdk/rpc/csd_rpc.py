#  SPDX-License-Identifier: MIT
"""csd-spdk-tgt's RPCs for SPDK's scripts/rpc.py, as a plugin:

    PYTHONPATH=$SPDK/python:spdk/rpc $SPDK/scripts/rpc.py --plugin csd_rpc \\
        csd_drive_create -n nqn.2026-01.io.csdlab:drive0 -f /var/tmp/drive0.img -s 1G
    ... --plugin csd_rpc csd_drive_get
    ... --plugin csd_rpc csd_drive_delete nqn.2026-01.io.csdlab:drive0
"""
from spdk.rpc.client import print_json

SUFFIXES = {'': 1, 'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}


def size(text):
    """A byte count with an optional K, M, G or T suffix (binary)."""
    text = text.strip().upper().removesuffix('B').removesuffix('I')
    unit = text[-1] if text and text[-1] in SUFFIXES else ''
    return int(text[:len(text) - len(unit)], 0) * SUFFIXES[unit]


def csd_drive_create(args):
    params = {'nqn': args.nqn, 'backing_file': args.backing_file}
    for name in ('size', 'lba_size', 'slm_size', 'serial', 'model', 'engine', 'engine_threads',
                 'exec_budget', 'exec_time_ms', 'verify_time_limit_ms', 'host_max_programs',
                 'host_max_slm', 'host_max_execs', 'host_max_program_bytes'):
        value = getattr(args, name)
        if value is not None:
            params[name] = value
    for name in ('allow_unverified', 'share_programs'):
        if getattr(args, name):
            params[name] = True
    if args.no_allow_any_host:
        params['allow_any_host'] = False
    return args.client.call('csd_drive_create', params)


def csd_drive_get(args):
    print_json(args.client.call('csd_drive_get'))


def csd_drive_delete(args):
    print_json(args.client.call('csd_drive_delete', {'nqn': args.nqn}))


def spdk_rpc_plugin_initialize(subparsers):
    p = subparsers.add_parser('csd_drive_create',
                              help='create a csdlab drive and the NVMe-oF subsystem serving it')
    p.add_argument('-n', '--nqn', required=True, help='subsystem NQN')
    p.add_argument('-f', '--backing-file', required=True, help='NVM data file (created sparse)')
    p.add_argument('-s', '--size', type=size, help='NVM namespace bytes (default: the file\'s, '
                   'or 1G for a new one)')
    p.add_argument('-l', '--lba-size', type=int, choices=(512, 4096))
    p.add_argument('-m', '--slm-size', type=size, help='Subsystem Local Memory (default 64M)')
    p.add_argument('--serial')
    p.add_argument('--model')
    p.add_argument('-e', '--engine', choices=('jit', 'interp'))
    p.add_argument('-t', '--engine-threads', type=int)
    p.add_argument('-b', '--exec-budget', type=int, help='instructions per run')
    p.add_argument('-T', '--exec-time-ms', type=int, help='wall-clock limit per run (0: none)')
    p.add_argument('--verify-time-limit-ms', type=int)
    p.add_argument('--allow-unverified', action='store_true')
    p.add_argument('--share-programs', action='store_true')
    p.add_argument('--host-max-programs', type=int)
    p.add_argument('--host-max-slm', type=size)
    p.add_argument('--host-max-execs', type=int)
    p.add_argument('--host-max-program-bytes', type=size)
    p.add_argument('--no-allow-any-host', action='store_true',
                   help='only hosts added with nvmf_subsystem_add_host')
    p.set_defaults(func=csd_drive_create)

    p = subparsers.add_parser('csd_drive_get', help='the csdlab drives and their counters')
    p.set_defaults(func=csd_drive_get)

    p = subparsers.add_parser('csd_drive_delete',
                              help='delete a drive and its subsystem (the backing file stays)')
    p.add_argument('nqn', help='subsystem NQN')
    p.set_defaults(func=csd_drive_delete)
