#!/bin/bash
# Entrypoint of the Asterisk container: writes the site files that asterisk_conf/*.conf
# `#tryinclude` (local/manager.conf, local/pjsip.conf, local/rtp.conf) from the environment, then
# runs the command (Asterisk). The local PBX harness writes the same files from Python
# (ivr_engine.pbx.asterisk.site_files); for the same inputs both must write the same text, byte for
# byte, which tests/pbx/test_docker_files.py checks by running this script. Change both together.
#
# Environment (the harness's names; defaults are the harness's loopback values):
#   IVR_AMI_SECRET            the AMI secret of the engine's user (required)
#   IVR_PBX_SIP_PORT          SIP/UDP port (15060)
#   IVR_PBX_AMI_PORT          AMI port (15038)
#   IVR_PBX_RTP_START/_END    RTP port range (31000-31999)
#   IVR_PBX_BIND              address SIP and AMI listen on (127.0.0.1; 0.0.0.0 in a container)
#   IVR_PBX_AMI_PERMIT        networks allowed to log in to AMI besides 127.0.0.1, space-separated,
#                             as address/mask (the engine container's network)
#   IVR_PBX_CALLER_MATCH      caller sources besides 127.0.0.1 (carrier addresses), space-separated
#   IVR_PBX_AGENT_HOST        where the static agent phones agent1..agent4 listen (127.0.0.1)
#   IVR_PBX_AGENT_PORT_BASE   agentN listens on this port + N - 1 (15071)
#   IVR_PBX_AMI_ORIGINATE     "yes" grants the AMI user "originate" (callbacks); default no
#   IVR_AGI_URL               the engine's FastAGI URL (agi://engine:4573/default)
#   IVR_ASTERISK_ETC          where to write local/ (/etc/asterisk)
set -euo pipefail
# Address lists are split on spaces below; '[' of an IPv6 address must not glob.
set -f
export LC_ALL=C

fail() {
	echo "asterisk-entrypoint: $*" >&2
	exit 64
}

port() { # name default
	local value="${!1:-$2}"
	[[ "$value" =~ ^[1-9][0-9]{0,4}$ ]] && ((value >= 1 && value <= 65535)) ||
		fail "$1=$value is not a port number"
	printf '%s' "$value"
}

addresses() { # name default: space-separated addresses or networks, nothing else
	local value="${!1:-$2}"
	[[ "$value" =~ ^[][A-Za-z0-9.:/_\ -]*$ ]] || fail "$1=$value is not a list of addresses"
	printf '%s' "$value"
}

secret="${IVR_AMI_SECRET:-}"
[[ -n "$secret" ]] || fail "IVR_AMI_SECRET is not set: nobody could log in to AMI"
# Printable ASCII without spaces or ';' (a comment in Asterisk's config files).
[[ "$secret" =~ ^[!-~]+$ && "$secret" != *";"* ]] ||
	fail "IVR_AMI_SECRET may hold printable ASCII only, without spaces or ';'"

sip_port=$(port IVR_PBX_SIP_PORT 15060)
ami_port=$(port IVR_PBX_AMI_PORT 15038)
rtp_start=$(port IVR_PBX_RTP_START 31000)
rtp_end=$(port IVR_PBX_RTP_END 31999)
agent_base=$(port IVR_PBX_AGENT_PORT_BASE 15071)
bind=$(addresses IVR_PBX_BIND 127.0.0.1)
ami_permit=$(addresses IVR_PBX_AMI_PERMIT "")
caller_match=$(addresses IVR_PBX_CALLER_MATCH "")
agent_host=$(addresses IVR_PBX_AGENT_HOST 127.0.0.1)
[[ "$bind" != *" "* && -n "$bind" ]] || fail "IVR_PBX_BIND=$bind must be one address"
[[ "$agent_host" != *" "* && -n "$agent_host" ]] || fail "IVR_PBX_AGENT_HOST=$agent_host must be one address"
((rtp_start < rtp_end)) || fail "IVR_PBX_RTP_START=$rtp_start is not below IVR_PBX_RTP_END=$rtp_end"
((agent_base + 3 <= 65535)) || fail "IVR_PBX_AGENT_PORT_BASE=$agent_base leaves no room for 4 agents"
case "${IVR_PBX_AMI_ORIGINATE:-no}" in
yes) originate=1 ;;
no) originate=0 ;;
*) fail "IVR_PBX_AMI_ORIGINATE=${IVR_PBX_AMI_ORIGINATE} must be yes or no" ;;
esac

local_dir="${IVR_ASTERISK_ETC:-/etc/asterisk}/local"
# The secret is in here: readable by Asterisk's group only (Asterisk drops root with -U/-G).
umask 027
mkdir -p "$local_dir"

{
	printf '[general](+)\nport = %s\nbindaddr = %s\n\n' "$ami_port" "$bind"
	printf '[ivr-engine](+)\nsecret = %s\n' "$secret"
	for network in $ami_permit; do printf 'permit = %s\n' "$network"; done
	if ((originate)); then printf 'write = call,agent,user,originate\n'; fi
} >"$local_dir/manager.conf"

{
	printf '[transport-udp](+)\nbind = %s:%s\n' "$bind" "$sip_port"
	for source in $caller_match; do printf '\n[callers-identify](+)\nmatch = %s\n' "$source"; done
	for n in 1 2 3 4; do
		printf '\n[agent%s](+type=aor)\ncontact = sip:agent%s@%s:%s\n' \
			"$n" "$n" "$agent_host" "$((agent_base + n - 1))"
	done
} >"$local_dir/pjsip.conf"

printf '[general](+)\nrtpstart = %s\nrtpend = %s\n' "$rtp_start" "$rtp_end" >"$local_dir/rtp.conf"

if getent group asterisk >/dev/null; then
	chgrp -R asterisk "$local_dir"
fi

# The dialplan reads ${ENV(IVR_AGI_URL)} when no global overrides it.
export IVR_AGI_URL="${IVR_AGI_URL:-agi://engine:4573/default}"
if (($# > 0)); then
	exec "$@"
fi
