#!/usr/bin/env bash
# Deploy or upgrade MDReader: its CloudFormation stacks in dependency order, one release.
#
#   infrastructure/scripts/deploy.sh ENV REGION [options]
#
#   ENV       dev | prod   (parameters from infrastructure/parameters/ENV.json)
#   REGION    AWS region, e.g. us-east-1 (the edge stack always goes to us-east-1)
#
# A release, in this order:
#   1. the artifacts stack (ECR repository, artifacts and access-log buckets);
#   2. --build: build the image and push it to ECR as :TAG (else --image URI);
#      --build-lambda: build the Lambda package (build_lambda.py) and upload it as
#      lambda/mdreader-lambda-TAG.zip (else --lambda-zip FILE, else the deployed one);
#   3. vpc, security, database;
#   4. jobs with the new image, then the migration step: one `mdreader migrate` task, waited
#      for; if it fails the services are not touched;
#   5. backend and websocket with the new image (ECS rolling update, circuit breaker);
#   6. edge in us-east-1 (WAF), frontend (CloudFront), then once more for the stacks that
#      need the public URL or the distribution when they were not known before;
#   7. the web build: kept as web/TAG/ in the artifacts bucket, then copied to the web
#      bucket (rollback.sh web puts the previous one back);
#   8. monitoring, the disaster-recovery vault in --dr-region, backup.
#
# Options
#   --image URI        release this image (services and the migration step)
#   --build            docker build and push the image as ECR :TAG (needs Docker)
#   --tag TAG          release tag (default: git rev-parse --short HEAD)
#   --build-lambda     build and upload the Lambda package
#   --lambda-zip FILE  upload this Lambda package
#   --dr-region R      region of the disaster-recovery backup vault (prod needs one)
#   --only a,b         deploy only these stacks (still in dependency order)
#   --web-dist DIR     the built web app to release (default: web/dist when it exists)
#   --skip-web         do not release the web app
#   --skip-migrate     do not run the migration step
#   --dry-run          print every aws command instead of running it
#   -h, --help         this text
#
# Stacks are named mdreader-ENV-<stack>; exports are named mdreader-ENV-<Name>.
set -euo pipefail

readonly STACKS=(artifacts vpc security database jobs backend websocket edge frontend monitoring dr backup)
readonly EDGE_REGION=us-east-1

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
SKIP_MIGRATE=false
BUILD=false
BUILD_LAMBDA=false
LAMBDA_ZIP=""
DR_REGION=""
TAG=""
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
    --skip-migrate) SKIP_MIGRATE=true ;;
    --build) BUILD=true ;;
    --build-lambda) BUILD_LAMBDA=true ;;
    --lambda-zip) LAMBDA_ZIP="${2:?--lambda-zip needs a value}"; shift ;;
    --dr-region) DR_REGION="${2:?--dr-region needs a value}"; shift ;;
    --tag) TAG="${2:?--tag needs a value}"; shift ;;
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
if [[ -n "$DR_REGION" ]]; then
  [[ "$DR_REGION" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]] || die "'$DR_REGION' does not look like an AWS region"
  [[ "$DR_REGION" != "$REGION" ]] || die "--dr-region must differ from the main region"
fi
if [[ -z "$TAG" ]]; then
  TAG="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --short HEAD 2>/dev/null || date -u +%Y%m%d%H%M%S)"
fi

readonly ENV REGION DRY_RUN TAG DR_REGION
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
if [[ "$ENV" == prod && -z "$DR_REGION" ]] && { [[ -z "$ONLY" ]] || [[ ",${ONLY}," == *,backup,* ]]; }; then
  die "prod keeps its backups in a second region too: pass --dr-region (e.g. us-west-2)"
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
# The parameter file read once, as "stack<TAB>Key=Value" lines.
ALL_PARAMETERS="$(python3 - "$PARAM_FILE" <<'PY'
import json
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    for stack, section in json.load(f).items():
        for key, value in section.items():
            print(f"{stack}\t{key}={value}")
PY
)"
readonly ALL_PARAMETERS

stack_parameters() {
  local line
  while IFS= read -r line; do
    [[ "$line" == "$1"$'\t'* ]] && printf '%s\n' "${line#*$'\t'}"
  done <<<"$ALL_PARAMETERS"
  return 0
}

# The region a stack lives in: the edge in us-east-1 (CloudFront's WAF and metrics), the
# disaster-recovery vault in --dr-region, everything else in REGION.
stack_region() {
  case "$1" in
    edge) echo "$EDGE_REGION" ;;
    dr) echo "${DR_REGION:-$REGION}" ;;
    *) echo "$REGION" ;;
  esac
}

# Sets OUTPUT to an output of a deployed stack (a placeholder in a dry run).
OUTPUT=""
stack_output() {
  local stack="$1" key="$2"
  local cmd=(aws cloudformation describe-stacks --region "$(stack_region "$stack")" --stack-name "$(stack_name "$stack")"
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
  local region
  region="$(stack_region "$stack")"
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
    --region "$region" \
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
  [[ -n "${CLOUDFRONT_KEY_ID:-}" ]] && extra+=("CloudFrontKeyId=${CLOUDFRONT_KEY_ID}")
  [[ -n "${LAMBDA_KEY:-}" && "$1" == backend ]] && extra+=("LambdaCodeS3Key=${LAMBDA_KEY}")
  ((${#extra[@]} == 0)) || printf '%s\n' "${extra[@]}"
}

deploy_service_stack() {
  local stack="$1" extra=() line
  while IFS= read -r line; do
    extra+=("$line")
  done < <(service_overrides "$stack")
  # ${a[@]+...}: an empty array under `set -u` on bash 3.2 (macOS) too.
  deploy_stack "$stack" ${extra[@]+"${extra[@]}"}
}

# Stacks whose only extra value is the public URL (Cognito callback, uploads CORS).
deploy_url_stack() {
  local stack="$1" extra=()
  [[ -n "${PUBLIC_URL:-}" ]] && extra+=("PublicUrl=${PUBLIC_URL}")
  # With Cognito, the released package also serves the user-migration trigger.
  [[ -n "${LAMBDA_KEY:-}" && "$stack" == security ]] &&
    stack_parameters security | grep -q '^EnableCognito=true$' &&
    extra+=("LambdaCodeS3Key=${LAMBDA_KEY}")
  deploy_stack "$stack" ${extra[@]+"${extra[@]}"}
}

# The key pair CloudFront checks upload URLs with: made once, the private key kept in the
# secret ENV/cloudfront-key (the app signs with it), the public key given to the frontend.
UPLOADS_PUBLIC_KEY=""
ensure_cloudfront_key() {
  local name="${ENV_NAME}/cloudfront-key"
  if [[ "$DRY_RUN" == true ]]; then
    run aws secretsmanager describe-secret --region "$REGION" --secret-id "$name"
    UPLOADS_PUBLIC_KEY="<public key of ${name}>"
    return 0
  fi
  command -v openssl >/dev/null || die "openssl is needed to make the CloudFront key pair"
  if ! aws secretsmanager describe-secret --region "$REGION" --secret-id "$name" >/dev/null 2>&1; then
    echo "==> making the CloudFront key pair for upload URLs (${name})" >&2
    aws secretsmanager create-secret --region "$REGION" --name "$name" \
      --description "Private key signing MDReader's CloudFront upload URLs" \
      --secret-string "$(openssl genrsa 2048 2>/dev/null)" >/dev/null
  fi
  UPLOADS_PUBLIC_KEY="$(aws secretsmanager get-secret-value --region "$REGION" --secret-id "$name" \
    --query SecretString --output text | openssl rsa -pubout 2>/dev/null)"
}

build_and_push_image() {
  stack_output artifacts RepositoryUri
  local repo="$OUTPUT"
  IMAGE_URI="${repo}:${TAG}"
  echo "==> image: ${IMAGE_URI}" >&2
  if [[ "$DRY_RUN" == true ]]; then
    echo "aws ecr get-login-password --region ${REGION} | docker login --username AWS --password-stdin ${repo%%/*}"
  else
    aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "${repo%%/*}"
  fi
  # Base images by digest: each tag is resolved once, and the build uses NAME:TAG@DIGEST.
  local args=() name image digest
  for name in PYTHON_IMAGE NODE_IMAGE; do
    image="$(sed -n "s/^ARG ${name}=//p" "${REPO_DIR}/Dockerfile")"
    if [[ "$DRY_RUN" == true ]]; then
      echo "docker buildx imagetools inspect ${image} --format '{{json .Manifest.Digest}}'"
      digest="sha256:<digest>"
    else
      digest="$(docker buildx imagetools inspect "$image" --format '{{json .Manifest.Digest}}' | tr -d '"')"
    fi
    echo "==> ${name}=${image}@${digest}" >&2
    args+=(--build-arg "${name}=${image}@${digest}")
  done
  run docker build "${args[@]}" -t "$IMAGE_URI" "$REPO_DIR"
  run docker push "$IMAGE_URI"
}

upload_lambda() {
  local zip="$LAMBDA_ZIP"
  if [[ "$BUILD_LAMBDA" == true ]]; then
    zip="${REPO_DIR}/build/mdreader-lambda.zip"
    run python3 "${SCRIPT_DIR}/build_lambda.py" --zip "$zip"
  fi
  [[ -n "$zip" ]] || return 0
  [[ "$DRY_RUN" == true || -f "$zip" ]] || die "no Lambda package $zip"
  stack_output artifacts ArtifactsBucketName
  LAMBDA_KEY="lambda/mdreader-lambda-${TAG}.zip"
  run aws s3 cp "$zip" "s3://${OUTPUT}/${LAMBDA_KEY}" --region "$REGION"
}

# The release's migration step: one task of the new image runs `mdreader migrate` (under the
# database's migration lock) and must exit 0 before any service is updated.
run_migrations() {
  [[ -n "$IMAGE_URI" && "$SKIP_MIGRATE" == false ]] || return 0
  stack_output jobs MigrateTaskDefinitionArn
  local task_definition="$OUTPUT"
  stack_output vpc PrivateSubnetIds
  local subnets="$OUTPUT"
  stack_output security AppSecurityGroupId
  local group="$OUTPUT"
  local cluster="${ENV_NAME}-jobs" task exit_code
  echo "==> migrations: ${task_definition}" >&2
  local cmd=(aws ecs run-task --region "$REGION" --cluster "$cluster" --launch-type FARGATE
    --task-definition "$task_definition" --started-by deploy.sh --count 1
    --network-configuration "awsvpcConfiguration={subnets=[${subnets}],securityGroups=[${group}],assignPublicIp=DISABLED}"
    --query 'tasks[0].taskArn' --output text)
  if [[ "$DRY_RUN" == true ]]; then
    run "${cmd[@]}"
    task="<migration task>"
  else
    task="$("${cmd[@]}")"
  fi
  run aws ecs wait tasks-stopped --region "$REGION" --cluster "$cluster" --tasks "$task"
  local describe=(aws ecs describe-tasks --region "$REGION" --cluster "$cluster" --tasks "$task"
    --query 'tasks[0].containers[0].exitCode' --output text)
  if [[ "$DRY_RUN" == true ]]; then
    run "${describe[@]}"
    return 0
  fi
  exit_code="$("${describe[@]}")"
  [[ "$exit_code" == 0 ]] || die "the migration step exited with ${exit_code}: the services were not updated (logs: /mdreader/${ENV_NAME}/jobs)"
}

upload_web() {
  local dist="$WEB_DIST"
  if [[ -z "$dist" ]]; then
    dist="${REPO_DIR}/web/dist"
    [[ -d "$dist" ]] || { echo "==> web: no ${dist}, skipping the upload (build with npm run build)" >&2; return 0; }
  fi
  [[ "$DRY_RUN" == true || -f "${dist}/index.html" ]] || die "${dist} has no index.html"
  stack_output artifacts ArtifactsBucketName
  local artifacts="$OUTPUT"
  stack_output frontend WebBucketName
  local bucket="$OUTPUT"
  stack_output frontend DistributionId
  local distribution="$OUTPUT"
  echo "==> web: ${dist} -> s3://${artifacts}/web/${TAG}/ -> s3://${bucket}" >&2
  # Every build is kept by its tag, so rollback.sh can put an earlier one back.
  run aws s3 sync "$dist" "s3://${artifacts}/web/${TAG}/" --region "$REGION" --delete
  "${SCRIPT_DIR}/publish_web.sh" "$ENV" "$REGION" "$TAG" "$artifacts" "$bucket" "$distribution" \
    "$([[ "$DRY_RUN" == true ]] && echo --dry-run || echo --run)"
}

if [[ "$DRY_RUN" == false ]]; then
  command -v aws >/dev/null || die "the AWS CLI (v2) is not installed"
fi
echo "==> ${ENV_NAME} in ${REGION}, release ${TAG}$([[ "$DRY_RUN" == true ]] && echo ' (dry run)')" >&2
run aws sts get-caller-identity --region "$REGION" --output text --query Account

PUBLIC_URL=""
if has_parameter backend PublicUrl; then
  PUBLIC_URL="$(stack_parameters backend | sed -n 's/^PublicUrl=//p')"
fi
LAMBDA_KEY=""
if [[ -z "$(stack_parameters backend | sed -n 's/^OriginCertificateArn=//p')" ]]; then
  [[ "$ENV" == prod ]] && echo "==> WARNING: prod without OriginCertificateArn: CloudFront reaches the load balancers over HTTP" >&2
  ORIGIN_TLS=false
else
  ORIGIN_TLS=true
fi
WEB_ACL_ARN=""
CLOUDFRONT_KEY_ID=""
DR_VAULT_ARN=""
DISTRIBUTION_ID=""

for stack in "${STACKS[@]}"; do
  selected "$stack" || continue
  case "$stack" in
    artifacts)
      deploy_stack artifacts
      [[ "$BUILD" == true ]] && build_and_push_image
      upload_lambda
      ;;
    security | database) deploy_url_stack "$stack" ;;
    jobs)
      if [[ -n "$IMAGE_URI" ]]; then deploy_stack jobs "ImageUri=${IMAGE_URI}"; else deploy_stack jobs; fi
      run_migrations
      ;;
    backend | websocket) deploy_service_stack "$stack" ;;
    edge)
      deploy_stack edge
      stack_output edge WebAclArn
      WEB_ACL_ARN="$OUTPUT"
      ;;
    frontend)
      if [[ -z "$WEB_ACL_ARN" ]]; then
        stack_output edge WebAclArn
        WEB_ACL_ARN="$OUTPUT"
      fi
      ensure_cloudfront_key
      deploy_stack frontend "WebAclArn=${WEB_ACL_ARN}" "OriginTls=${ORIGIN_TLS}" \
        "UploadsPublicKey=${UPLOADS_PUBLIC_KEY}"
      stack_output frontend UploadsPublicKeyId
      CLOUDFRONT_KEY_ID="$OUTPUT"
      # The stacks learn the address users reach (without a PublicUrl in the parameter
      # file) and the upload key's id only now, from CloudFront: deploy them once more
      # with them (a no-op on later runs).
      if [[ -z "$PUBLIC_URL" ]]; then
        stack_output frontend PublicUrl
        PUBLIC_URL="$OUTPUT"
        deploy_url_stack security
        deploy_url_stack database
      fi
      deploy_service_stack backend
      deploy_service_stack websocket
      stack_output frontend DistributionId
      DISTRIBUTION_ID="$OUTPUT"
      deploy_stack edge "DistributionId=${DISTRIBUTION_ID}"
      [[ "$SKIP_WEB" == true ]] || upload_web
      ;;
    dr)
      [[ -n "$DR_REGION" ]] || { echo "==> dr: no --dr-region, backups stay in ${REGION}" >&2; continue; }
      deploy_stack dr
      stack_output dr DrVaultArn
      DR_VAULT_ARN="$OUTPUT"
      ;;
    backup)
      if [[ -z "$DR_VAULT_ARN" && -n "$DR_REGION" ]]; then
        stack_output dr DrVaultArn
        DR_VAULT_ARN="$OUTPUT"
      fi
      if [[ -n "$DR_VAULT_ARN" ]]; then deploy_stack backup "DrVaultArn=${DR_VAULT_ARN}"; else deploy_stack backup; fi
      ;;
    *) deploy_stack "$stack" ;;
  esac
done

echo "==> done: $(stack_name '*') in ${REGION}, release ${TAG}" >&2
