#!/usr/bin/env bash
# ctest cli.completion: sources the scripts `reitunnelctl completion bash|zsh`
# print into real shells and checks what they offer for typed command lines.
#   tests/cli/completion_test.sh path/to/reitunnelctl
# bash: the completion function runs as bash would run it (COMP_LINE,
# COMP_POINT, COMP_WORDBREAKS) and COMPREPLY is compared. zsh (when
# installed): the function runs with zsh's completion builtins (compadd,
# compset, _describe) recorded instead of drawn.
set -uo pipefail
ctl=${1:?usage: completion_test.sh REITUNNELCTL}
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# ---------------------------------------------------------------- bash
bash_script=$("$ctl" completion bash) || { echo "FAIL: reitunnelctl completion bash exited $?"; exit 1; }

# Prints what the completion offers for LINE (the cursor at its end), one
# candidate per line, sorted.
bash_offers() {
  bash --norc --noprofile -c '
    eval "$1"
    complete -p reitunnelctl | grep -q -- "-F _reitunnelctl" || { echo "NOT-REGISTERED"; exit; }
    # bash'"'"'s own default, which has "=" and ":".
    [[ $COMP_WORDBREAKS == *=*:* || $COMP_WORDBREAKS == *:*=* ]] || { echo "NO-WORDBREAKS"; exit; }
    COMP_LINE=$2 COMP_POINT=${#2}
    COMPREPLY=()
    _reitunnelctl
    printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$bash_script" "$1"
}

# expect LINE WORD... : the offers are exactly these words.
expect() {
  local line=$1; shift
  local got want
  got=$(bash_offers "$line")
  want=$(printf '%s\n' "$@" | sort)
  [[ $got == "$want" ]] || fail "bash: '$line' offers [$(echo $got)], want [$(echo $want)]"
}

# expect_has LINE WORD... : the offers include these words.
expect_has() {
  local line=$1; shift
  local got w
  got=$(bash_offers "$line")
  for w in "$@"; do
    grep -qxF -- "$w" <<< "$got" || fail "bash: '$line' does not offer '$w' (got: $(echo $got))"
  done
}

# Every command group of --help is offered at the first word.
groups=$("$ctl" --help | awk '/^Commands:/{on=1; next} /^$/{on=0} on {print $1}' | sort -u)
[[ -n $groups ]] || fail "could not read the command groups from --help"
# shellcheck disable=SC2086
expect "reitunnelctl " $groups
expect "reitunnelctl tu" tunnels
expect "reitunnelctl tunnels " list show close
expect "reitunnelctl tunnels cl" close
expect "reitunnelctl bans " list remove
# Globals before the command word, with their value as the next word.
expect "reitunnelctl --admin 127.0.0.1:7001 -o json tunnels l" list
expect "reitunnelctl --admin=127.0.0.1:7001 clients k" kick
# Flags of the command, then the global ones.
expect_has "reitunnelctl clients kick 3f2a --" --ban= --reason= --admin= --token= --output= --help
expect "reitunnelctl tunnels list --a" --all --admin=
expect "reitunnelctl events watch --ty" --type=
# Values: after "=" bash replaces only the part after it (COMP_WORDBREAKS).
expect "reitunnelctl tunnels list -o " table wide json yaml
expect "reitunnelctl tunnels list --output=y" yaml
expect "reitunnelctl events watch --type=tunnel_c" tunnel_close
expect "reitunnelctl events watch --type=tunnel_open,client_d" tunnel_open,client_disconnect
expect "reitunnelctl completion " bash zsh
expect "reitunnelctl status --config " ""
# File names for the TLS flags.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
touch "$tmp/ca-bundle.pem"
expect "reitunnelctl status --tls-ca $tmp/ca-b" "$tmp/ca-bundle.pem"
expect "reitunnelctl status --tls-ca=$tmp/ca-b" "$tmp/ca-bundle.pem"

# ---------------------------------------------------------------- zsh
if command -v zsh >/dev/null; then
  zsh_script=$("$ctl" completion zsh) || fail "reitunnelctl completion zsh exited $?"
  zsh -n <<< "$zsh_script" || fail "zsh: the script does not parse"
  # Runs _reitunnelctl for the words of LINE (the last one being completed)
  # with the completion builtins replaced by recorders; prints one offered
  # word per line, sorted.
  zsh_offers() {
    zsh -f -c '
      compdef() { :; }
      typeset -ga offered
      compadd() {
        local -a args; local arr="" sfx=0
        while (( $# )); do
          case $1 in
            (-a) arr=$2; shift 2 ;;
            (-S) shift 2 ;;
            (--) shift; break ;;
            (-*) shift ;;
            (*) break ;;
          esac
        done
        if [[ -n $arr ]]; then offered+=("${(@P)arr}"); else offered+=("$@"); fi
      }
      compset() { [[ $1 == -P ]] && PREFIX=${PREFIX#${~2}}; return 0; }
      _describe() { local arr=${@[-1]}; local e; for e in "${(@P)arr}"; do offered+=("${e%%:*}"); done; }
      _files() { offered+=("<files>"); }
      eval "$1"
      words=(${=2})
      [[ $2 == *" " ]] && words+=("")
      CURRENT=${#words}
      PREFIX=${words[CURRENT]}
      _reitunnelctl
      print -rl -- "${offered[@]}" | sort' _ "$zsh_script" "$1"
  }
  zexpect() {
    local line=$1; shift
    local got want
    got=$(zsh_offers "$line")
    want=$(printf '%s\n' "$@" | sort)
    [[ $got == "$want" ]] || fail "zsh: '$line' offers [$(echo $got)], want [$(echo $want)]"
  }
  # shellcheck disable=SC2086
  zexpect "reitunnelctl " $groups
  zexpect "reitunnelctl tunnels " list show close
  zexpect "reitunnelctl -o json clients " list show kick
  zexpect "reitunnelctl tunnels list -o " table wide json yaml
  zexpect "reitunnelctl completion " bash zsh
  zexpect "reitunnelctl status --tls-ca " "<files>"
  got=$(zsh_offers "reitunnelctl clients kick X --")
  for w in --ban= --reason= --admin= --help; do
    grep -qxF -- "$w" <<< "$got" || fail "zsh: 'clients kick X --' does not offer $w"
  done
else
  echo "note: zsh not installed (scripts/install-deps.sh installs it): zsh script not checked"
fi

if ((failures)); then
  echo "cli.completion: $failures failure(s)"
  exit 1
fi
echo "cli.completion: OK"
