# shellcheck shell=bash
# The nginx sink of the side-by-side scripts (run.sh, vhost.sh, scale.sh);
# sourced, defines one function and nothing else.
#
# nginx_sink_conf DIR PORT WORKERS [LISTEN_OPTIONS]
#   Writes DIR/www/1k (1 KiB) and DIR/nginx.conf: WORKERS worker processes,
#   no access log, unlimited keep-alive, listening on 127.0.0.1:PORT with
#   backlog 4096 (and LISTEN_OPTIONS, e.g. reuseport). Run it with
#   nginx -p DIR/nginx -c DIR/nginx.conf.
nginx_sink_conf() {
  local dir=$1 port=$2 workers=$3 listen_opts=${4:-}
  mkdir -p "$dir/www" "$dir/nginx"
  head -c 1024 /dev/zero | tr '\0' 'a' >"$dir/www/1k"
  cat >"$dir/nginx.conf" <<EOF2
daemon off;
worker_processes $workers;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path $dir/nginx/body;
  proxy_temp_path $dir/nginx/proxy;
  fastcgi_temp_path $dir/nginx/fastcgi;
  uwsgi_temp_path $dir/nginx/uwsgi;
  scgi_temp_path $dir/nginx/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$port backlog=4096 $listen_opts;
    root $dir/www;
  }
}
EOF2
}
