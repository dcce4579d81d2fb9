#!/usr/bin/env bash
# System packages the test suite drives for real: headless Chromium (HTML report),
# Orthanc + DICOMweb plugin (PACS tests), dicom3tools' dciodvfy (DICOM SEG/SR validation).
# Installed from Debian when missing and we may install; otherwise the tests that need them
# skip and say why. Never fatal: the rest of the suite still runs.
set -u
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v Orthanc >/dev/null 2>&1 || need+=(orthanc)
[ -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || ls /usr/share/orthanc/plugins*/libOrthancDicomWeb.so >/dev/null 2>&1 || need+=(orthanc-dicomweb)
command -v dciodvfy >/dev/null 2>&1 || need+=(dicom3tools)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "system_setup: not root or no apt-get; tests needing ${need[*]} will skip"
  exit 0
fi
echo "system_setup: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || echo "system_setup: apt-get update failed"
apt-get install -y -qq --no-install-recommends "${need[@]}" >/tmp/cementseg-system-setup.log 2>&1 \
  || echo "system_setup: apt-get install ${need[*]} failed (see /tmp/cementseg-system-setup.log); dependent tests will skip"
# The Debian orthanc package starts a system service on port 8042; the tests run their own
# throwaway instance on another loopback port, so stop the packaged one if it started.
if command -v service >/dev/null 2>&1; then service orthanc stop >/dev/null 2>&1 || true; fi
exit 0
