#!/usr/bin/env bash
# Deploy MDReader's CloudFormation stacks in dependency order.
#
#   infrastructure/scripts/deploy.sh ENV REGION [options]
#
#   ENV       dev | prod   (parameters from infrastructure/parameters/ENV.json)
#   REGION    AWS region, e.g. us-east-1
#
# Options
#   --image URI        container image for the API and collaboration services
#                      (required the first time; later runs keep the deployed one)
#   --only a,b         deploy only these stacks (still in dependency order)
#   --web-dist DIR     upload this built web app to the frontend bucket
#                      (default: web/dist when it exists)
#   --skip-web         do not upload the web app
#   --dry-run          print every aws command instead of running it
#   -h, --help         this text
#
# Stacks are named mdreader-ENV-<stack>; exports are named mdreader-ENV-<Name>.
set -euo pipefail

readonly STACKS=(vpc security database backend websocket frontend monitoring backup)

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
INFRA_DIR="$(dirname "$SCRIPT_DIR")"
REPO_DIR="$(dirname "$INFRA_DIR")"
readonly SCRIPT_DIR INFRA_DIR REPO_DIR

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

die() {
  echo "deploy.sh: $*" >&2
  exit 2
}

DRY_RUN=false
IMAGE_URI=""
ONLY=""
WEB_DIST=""
SKIP_WEB=false
POSITIONAL=()

while (($# > 0)); do
  case "$1" in
    --dry-run) DRY_RUN=true ;;
    --image) IMAGE_URI="${2:?--image needs a value}"; shift ;;
    --image=*) IMAGE_URI="${1#*=}" ;;
    --only) ONLY="${2:?--only needs a value}"; shift ;;
    --only=*) ONLY="${1#*=}" ;;
    --web-dist) WEB_DIST="${2:?--web-dist needs a value}"; shift ;;
    --web-dist=*) WEB_DIST="${1#*=}" ;;
    --skip-web) SKIP_WEB=true ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) POSITIONAL+=("$1") ;;
  esac
  shift
done

((${#POSITIONAL[@]} == 2)) || { usage >&2; exit 2; }
ENV="${POSITIONAL[0]}"
REGION="${POSITIONAL[1]}"
case "$ENV" in
  dev | prod) ;;
  *) die "ENV must be dev or prod, not '$ENV'" ;;
esac
[[ "$REGION" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]] || die "'$REGION' does not look like an AWS region"

readonly ENV REGION DRY_RUN
readonly ENV_NAME="mdreader-${ENV}"
readonly PARAM_FILE="${INFRA_DIR}/parameters/${ENV}.json"
[[ -f "$PARAM_FILE" ]] || die "no parameter file $PARAM_FILE"
command -v python3 >/dev/null || die "python3 is needed to read $PARAM_FILE"

if [[ -n "$ONLY" ]]; then
  IFS=',' read -r -a wanted <<<"$ONLY"
  for s in "${wanted[@]}"; do
    [[ " ${STACKS[*]} " == *" $s "* ]] || die "unknown stack '$s' (one of: ${STACKS[*]})"
  done
fi

# Print (dry run) or run one command.
run() {
  if [[ "$DRY_RUN" == true ]]; then
    local out="" arg
    for arg in "$@"; do
      if [[ "$arg" =~ ^[A-Za-z0-9_./:=,@+-]+$ ]]; then
        out+="$arg "
      else
        out+="'${arg//\'/\'\\\'\'}' "
      fi
    done
    echo "${out% }"
  else
    "$@"
  fi
}

selected() {
  [[ -z "$ONLY" ]] && return 0
  [[ ",${ONLY}," == *",$1,"* ]]
}

stack_name() {
  echo "${ENV_NAME}-$1"
}

# Key=Value lines for one stack's section of the parameter file.
stack_parameters() {
  python3 - "$PARAM_FILE" "$1" <<'PY'
import json
import sys

path, stack = sys.argv[1], sys.argv[2]
with open(path, encoding="utf-8") as f:
    section = json.load(f).get(stack, {})
for key, value in section.items():
    print(f"{key}={value}")
PY
}

# Sets OUTPUT to an output of a deployed stack (a placeholder in a dry run).
OUTPUT=""
stack_output() {
  local stack="$1" key="$2"
  local cmd=(aws cloudformation describe-stacks --region "$REGION" --stack-name "$(stack_name "$stack")"
    --query "Stacks[0].Outputs[?OutputKey=='${key}'].OutputValue" --output text)
  if [[ "$DRY_RUN" == true ]]; then
    run "${cmd[@]}"
    OUTPUT="<${stack}.${key}>"
  else
    OUTPUT="$("${cmd[@]}")"
    [[ -n "$OUTPUT" && "$OUTPUT" != None ]] || die "stack $(stack_name "$stack") has no output $key"
  fi
}

# deploy_stack STACK [Key=Value ...]: extra overrides win over the parameter file.
deploy_stack() {
  local stack="$1"
  shift
  local template="${INFRA_DIR}/templates/${stack}.yml"
  [[ -f "$template" ]] || die "no template $template"
  local overrides=("EnvironmentName=${ENV_NAME}")
  local line
  while IFS= read -r line; do
    [[ -n "$line" ]] && overrides+=("$line")
  done < <(stack_parameters "$stack")
  overrides+=("$@")
  echo "==> ${stack}" >&2
  run aws cloudformation deploy \
    --region "$REGION" \
    --stack-name "$(stack_name "$stack")" \
    --template-file "$template" \
    --capabilities CAPABILITY_IAM \
    --no-fail-on-empty-changeset \
    --tags Project=mdreader "Environment=${ENV}" \
    --parameter-overrides "${overrides[@]}"
}

has_parameter() {
  # has_parameter STACK KEY: true when the parameter file sets KEY to a non-empty value.
  stack_parameters "$1" | grep -q "^$2=."
}

service_overrides() {
  local extra=()
  [[ -n "$IMAGE_URI" ]] && extra+=("ImageUri=${IMAGE_URI}")
  [[ -n "${PUBLIC_URL:-}" ]] && extra+=("PublicUrl=${PUBLIC_URL}")
  ((${#extra[@]} == 0)) || printf '%s\n' "${extra[@]}"
}

deploy_service_stack() {
  local stack="$1" extra=() line
  while IFS= read -r line; do
    extra+=("$line")
  done < <(service_overrides)
  # ${a[@]+...}: an empty array under `set -u` on bash 3.2 (macOS) too.
  deploy_stack "$stack" ${extra[@]+"${extra[@]}"}
}

upload_web() {
  local dist="$WEB_DIST"
  if [[ -z "$dist" ]]; then
    dist="${REPO_DIR}/web/dist"
    [[ -d "$dist" ]] || { echo "==> web: no ${dist}, skipping the upload (build with npm run build)" >&2; return 0; }
  fi
  [[ "$DRY_RUN" == true || -f "${dist}/index.html" ]] || die "${dist} has no index.html"
  stack_output frontend WebBucketName
  local bucket="$OUTPUT"
  stack_output frontend DistributionId
  local distribution="$OUTPUT"
  echo "==> web: ${dist} -> s3://${bucket}" >&2
  # Hashed assets are immutable; index.html must always be revalidated.
  run aws s3 sync "$dist" "s3://${bucket}/" --region "$REGION" --delete \
    --exclude index.html --cache-control "public, max-age=31536000, immutable"
  run aws s3 cp "${dist}/index.html" "s3://${bucket}/index.html" --region "$REGION" \
    --cache-control "no-cache"
  run aws cloudfront create-invalidation --distribution-id "$distribution" --paths "/index.html" "/"
}

if [[ "$DRY_RUN" == false ]]; then
  command -v aws >/dev/null || die "the AWS CLI (v2) is not installed"
fi
echo "==> ${ENV_NAME} in ${REGION}$([[ "$DRY_RUN" == true ]] && echo ' (dry run)')" >&2
run aws sts get-caller-identity --region "$REGION" --output text --query Account

PUBLIC_URL=""
if has_parameter backend PublicUrl; then
  PUBLIC_URL="$(stack_parameters backend | sed -n 's/^PublicUrl=//p')"
fi

for stack in "${STACKS[@]}"; do
  selected "$stack" || continue
  case "$stack" in
    backend | websocket) deploy_service_stack "$stack" ;;
    *) deploy_stack "$stack" ;;
  esac

  if [[ "$stack" == frontend ]]; then
    # Without a PublicUrl in the parameter file the services learn the address users
    # reach only now, from CloudFront: deploy them once more with it (a no-op later).
    if [[ -z "$PUBLIC_URL" ]]; then
      stack_output frontend PublicUrl
      PUBLIC_URL="$OUTPUT"
      deploy_service_stack backend
      deploy_service_stack websocket
    fi
    [[ "$SKIP_WEB" == true ]] || upload_web
  fi
done

echo "==> done: $(stack_name '*') in ${REGION}" >&2
