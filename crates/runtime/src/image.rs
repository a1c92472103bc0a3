//! The local image store: where containers' root file systems come from.
//!
//! A real node pulls images from a registry; kubelab's nodes never reach a
//! registry. Images get here two ways:
//! - **built in**, made on first use: `busybox` (from Debian's
//!   busybox-static) and the demo apps (`kubelab/web`, …, see the
//!   `kubelab-demo` crate), so every chapter manifest works offline;
//! - **loaded** from a file with `kubelab image load FILE`: an OCI image
//!   layout (folder or tar archive, as `skopeo copy … oci-archive:` writes)
//!   or a `docker save` archive.
//!
//! An image is unpacked once into `<root>/<id>/rootfs`; containers see it
//! read-only through an overlay (linux runtime). Image references are
//! normalised as upstream does: `nginx` is `docker.io/library/nginx:latest`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Result, RuntimeError};

/// One image: names, where its root file system is, and how to run it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Image {
    /// `sha256:…` of the image config (or of how a built-in image was made).
    pub id: String,
    pub names: Vec<String>,
    pub rootfs: PathBuf,
    /// The OCI config's `config` section: Env, Entrypoint, Cmd, WorkingDir.
    pub config: ImageConfig,
    pub size: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageConfig {
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    /// Who to run as: `uid`, `uid:gid`, `name` or `name:group`.
    #[serde(default)]
    pub user: Option<String>,
}

/// The images of one data directory (shared by all nodes of a cluster).
#[derive(Clone)]
pub struct ImageStore {
    root: PathBuf,
    /// name → image; loaded from and saved to `<root>/images.json`.
    index: Arc<Mutex<BTreeMap<String, Image>>>,
}

/// Where the built-in images come from.
const BUSYBOX_NAMES: &[&str] = &[
    "docker.io/library/busybox:latest",
    "docker.io/library/busybox:1.35",
];

/// The demo apps, each `(name, version)`: `docker.io/kubelab/<name>:<version>`.
pub const DEMO_IMAGES: &[(&str, &str)] = &[
    ("web", "1.0"),
    ("web", "2.0"),
    ("whoami", "1.0"),
    ("random", "1.0"),
    ("frontend", "1.0"),
    ("ticker", "1.0"),
    ("sleep", "1.0"),
    ("health", "1.0"),
];

/// Upstream's reference normalisation (`docker/distribution/reference`):
/// no registry → `docker.io`; one path component on docker.io → `library/`;
/// no tag or digest → `:latest`.
pub fn normalize(reference: &str) -> String {
    let reference = reference.trim();
    let (first, rest) = match reference.split_once('/') {
        Some((f, r)) => (f, Some(r)),
        None => (reference, None),
    };
    let is_registry = |s: &str| s.contains('.') || s.contains(':') || s == "localhost";
    let (registry, path) = match rest {
        Some(r) if is_registry(first) => (first.to_string(), r.to_string()),
        _ => ("docker.io".to_string(), reference.to_string()),
    };
    let path = if registry == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    let last = path.rsplit('/').next().unwrap_or("");
    let tagged = last.contains(':') || path.contains('@');
    format!("{registry}/{path}{}", if tagged { "" } else { ":latest" })
}

/// How `kubectl get pods` and events show an image: without `docker.io/library/`.
pub fn familiar(name: &str) -> String {
    name.strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name)
        .to_string()
}

impl ImageStore {
    pub fn open(root: impl Into<PathBuf>) -> Result<ImageStore> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        let index = match std::fs::read(root.join("images.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(_) => BTreeMap::new(),
        };
        Ok(ImageStore {
            root,
            index: Arc::new(Mutex::new(index)),
        })
    }

    fn save(&self, index: &BTreeMap<String, Image>) -> Result<()> {
        let tmp = self.root.join("images.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(index).unwrap_or_default())?;
        std::fs::rename(tmp, self.root.join("images.json"))?;
        Ok(())
    }

    /// Every image, one entry per name (`kubelab image ls`).
    pub fn list(&self) -> Vec<(String, Image)> {
        self.index
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Finds an image by reference, building it first if it is a built-in one.
    /// The error says how to make a missing image available.
    pub fn resolve(&self, reference: &str) -> Result<Image> {
        let name = normalize(reference);
        if let Some(img) = self.index.lock().unwrap().get(&name) {
            return Ok(img.clone());
        }
        if BUSYBOX_NAMES.contains(&name.as_str()) {
            self.build_busybox()?;
        } else if DEMO_IMAGES
            .iter()
            .any(|(app, v)| name == format!("docker.io/kubelab/{app}:{v}"))
        {
            self.build_demo_images()?;
        } else if let Ok(bytes) = std::fs::read(self.root.join("images.json")) {
            // `kubelab image load` runs in another process: look at the
            // index on disk again before saying the image is missing.
            if let Ok(fresh) = serde_json::from_slice::<BTreeMap<String, Image>>(&bytes) {
                *self.index.lock().unwrap() = fresh;
            }
        }
        self.index
            .lock()
            .unwrap()
            .get(&name)
            .cloned()
            .ok_or_else(|| {
                RuntimeError::ImageNotFound(format!(
                    "image \"{}\" is not present on the node and kubelab nodes pull from no registry: \
                     load it with `kubelab image load FILE` (an OCI or docker archive), \
                     or use a built-in image (busybox, kubelab/web:1.0 …; see `kubelab image ls`)",
                    familiar(&name)
                ))
            })
    }

    /// Makes every built-in image (for `kubelab image ls` and benchmarks).
    pub fn ensure_builtins(&self) -> Result<()> {
        self.build_busybox()?;
        self.build_demo_images()
    }

    fn add(&self, names: &[String], image: Image) -> Result<()> {
        let mut index = self.index.lock().unwrap();
        for n in names {
            let mut img = image.clone();
            img.names = names.to_vec();
            index.insert(n.clone(), img);
        }
        self.save(&index)
    }

    fn busybox_binary() -> Result<PathBuf> {
        ["/usr/bin/busybox", "/bin/busybox"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .ok_or_else(|| {
                RuntimeError::ImageNotFound(
                    "the busybox image is built from Debian's busybox-static, which is not \
                     installed: apt-get install busybox-static"
                        .into(),
                )
            })
    }

    /// A ~2 MB root file system: busybox and a link for each of its applets.
    /// The links are relative (`usr/bin/wget -> ../../bin/busybox`) so they
    /// work both inside a container and from the host (process runtime).
    fn make_busybox_rootfs(&self, rootfs: &Path) -> Result<()> {
        let busybox = Self::busybox_binary()?;
        for d in [
            "bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "root", "proc", "dev", "sys",
            "var", "home",
        ] {
            std::fs::create_dir_all(rootfs.join(d))?;
        }
        std::fs::copy(&busybox, rootfs.join("bin/busybox"))?;
        let out = std::process::Command::new(&busybox)
            .arg("--list-full")
            .output()?;
        for applet in String::from_utf8_lossy(&out.stdout).lines() {
            let applet = applet.trim();
            if applet.is_empty() || applet == "bin/busybox" {
                continue;
            }
            let depth = applet.matches('/').count();
            let target = format!("{}bin/busybox", "../".repeat(depth));
            let link = rootfs.join(applet);
            if let Some(parent) = link.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(target, link)?;
        }
        std::fs::write(
            rootfs.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )?;
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
        Ok(())
    }

    fn build_busybox(&self) -> Result<()> {
        let dir = self.root.join("builtin-busybox");
        let rootfs = dir.join("rootfs");
        if !rootfs.join("bin/busybox").exists() {
            let _ = std::fs::remove_dir_all(&dir);
            self.make_busybox_rootfs(&rootfs)?;
        }
        let names: Vec<String> = BUSYBOX_NAMES.iter().map(|s| s.to_string()).collect();
        self.add(
            &names,
            Image {
                id: format!("sha256:{}", fingerprint(&[b"busybox-static"])),
                names: names.clone(),
                size: dir_size(&rootfs),
                rootfs,
                config: ImageConfig {
                    env: vec![PATH_ENV.into()],
                    entrypoint: None,
                    cmd: Some(vec!["sh".into()]),
                    working_dir: None,
                    user: None,
                },
            },
        )
    }

    /// The demo apps: busybox plus this very program (it answers to the
    /// apps' names, see `kubelab-demo`) and the shared libraries it needs.
    fn build_demo_images(&self) -> Result<()> {
        let exe = std::env::current_exe()?;
        let meta = std::fs::metadata(&exe)?;
        let stamp = format!(
            "{}-{}",
            meta.len(),
            meta.modified()
                .ok()
                .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_secs())
                .unwrap_or(0)
        );
        let fp = fingerprint(&[stamp.as_bytes()]);
        let dir = self.root.join(format!("builtin-demo-{}", &fp[..12]));
        let rootfs = dir.join("rootfs");
        if !rootfs.join("bin/kubelab-demo").exists() {
            let _ = std::fs::remove_dir_all(&dir);
            self.make_busybox_rootfs(&rootfs)?;
            std::fs::copy(&exe, rootfs.join("bin/kubelab-demo"))?;
            for lib in shared_libraries(&exe) {
                let target = rootfs.join(lib.trim_start_matches('/'));
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::copy(&lib, &target)?;
            }
            for app in ["web", "whoami", "random", "frontend", "ticker", "health"] {
                std::os::unix::fs::symlink("kubelab-demo", rootfs.join("bin").join(app))?;
            }
        }
        let size = dir_size(&rootfs);
        for (app, version) in DEMO_IMAGES {
            let name = format!("docker.io/kubelab/{app}:{version}");
            // busybox owns `/bin/sleep`, so the demo's sleep (which, unlike
            // busybox's, exits on SIGTERM) is called by its multi-call name.
            let entrypoint = if *app == "sleep" {
                vec!["/bin/kubelab-demo".to_string(), "sleep".into()]
            } else {
                vec![format!("/bin/{app}")]
            };
            self.add(
                std::slice::from_ref(&name),
                Image {
                    id: format!("sha256:{}", fingerprint(&[fp.as_bytes(), name.as_bytes()])),
                    names: vec![name.clone()],
                    rootfs: rootfs.clone(),
                    size,
                    config: ImageConfig {
                        env: vec![
                            PATH_ENV.into(),
                            format!("VERSION={version}"),
                            "PORT=8080".into(),
                        ],
                        entrypoint: Some(entrypoint),
                        cmd: None,
                        working_dir: Some("/".into()),
                        user: None,
                    },
                },
            )?;
        }
        Ok(())
    }

    /// Imports an OCI image layout (folder or tar) or a `docker save`
    /// archive. `tag` names the image when the archive does not.
    pub fn load(&self, file: &Path, tag: Option<&str>) -> Result<Vec<String>> {
        let staging = tempdir_in(&self.root)?;
        let layout = if file.is_dir() {
            file.to_path_buf()
        } else {
            let f = std::fs::File::open(file)?;
            tar::Archive::new(f).unpack(&staging)?;
            staging.clone()
        };
        let result = self.load_layout(&layout, tag);
        let _ = std::fs::remove_dir_all(&staging);
        result
    }

    fn load_layout(&self, layout: &Path, tag: Option<&str>) -> Result<Vec<String>> {
        let bad = |m: String| RuntimeError::Create(format!("not an image archive: {m}"));
        let read_json = |p: PathBuf| -> Result<Value> {
            let bytes = std::fs::read(&p).map_err(|e| bad(format!("{}: {e}", p.display())))?;
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("{}: {e}", p.display())))
        };
        let blob = |digest: &str| layout.join("blobs").join(digest.replace(':', "/"));
        // (config path, layer paths, names)
        let (config_path, layers, mut names): (PathBuf, Vec<PathBuf>, Vec<String>) =
            if layout.join("index.json").exists() {
                // OCI layout: index.json → manifest → config + layers.
                let index = read_json(layout.join("index.json"))?;
                let desc = index["manifests"]
                    .as_array()
                    .and_then(|m| m.first())
                    .cloned()
                    .ok_or_else(|| bad("index.json lists no manifest".into()))?;
                let mut manifest = read_json(blob(desc["digest"].as_str().unwrap_or("")))?;
                if manifest["manifests"].is_array() {
                    // A multi-platform index: take the first manifest.
                    let d = manifest["manifests"][0]["digest"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    manifest = read_json(blob(&d))?;
                }
                let names = desc["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .map(|r| {
                        if r.contains('/') || r.contains(':') {
                            vec![r.to_string()]
                        } else {
                            // A bare tag: name it after the archive's tag option.
                            tag.map(|t| vec![t.to_string()])
                                .unwrap_or_else(|| vec![format!("localhost/image:{r}")])
                        }
                    })
                    .unwrap_or_default();
                let layers = manifest["layers"]
                    .as_array()
                    .map(|ls| {
                        ls.iter()
                            .map(|l| blob(l["digest"].as_str().unwrap_or("")))
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    blob(manifest["config"]["digest"].as_str().unwrap_or("")),
                    layers,
                    names,
                )
            } else if layout.join("manifest.json").exists() {
                // docker save: manifest.json lists config, layers and tags.
                let m = read_json(layout.join("manifest.json"))?;
                let m = &m[0];
                let layers = m["Layers"]
                    .as_array()
                    .map(|ls| {
                        ls.iter()
                            .map(|l| layout.join(l.as_str().unwrap_or("")))
                            .collect()
                    })
                    .unwrap_or_default();
                let names = m["RepoTags"]
                    .as_array()
                    .map(|t| {
                        t.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                (
                    layout.join(m["Config"].as_str().unwrap_or("")),
                    layers,
                    names,
                )
            } else {
                return Err(bad(
                    "neither index.json (OCI) nor manifest.json (docker) found".into(),
                ));
            };
        if let Some(t) = tag {
            names = vec![t.to_string()];
        }
        if names.is_empty() {
            return Err(bad("the archive names no image: pass --tag NAME".into()));
        }
        let names: Vec<String> = names.iter().map(|n| normalize(n)).collect();
        let config_bytes = std::fs::read(&config_path)?;
        let config: Value =
            serde_json::from_slice(&config_bytes).map_err(|e| bad(format!("image config: {e}")))?;
        let id = fingerprint(&[&config_bytes]);
        let dir = self.root.join(&id[..16]);
        let rootfs = dir.join("rootfs");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&rootfs)?;
        for layer in &layers {
            apply_layer(layer, &rootfs)?;
        }
        let image_config: ImageConfig =
            serde_json::from_value(config["config"].clone()).unwrap_or_default();
        self.add(
            &names,
            Image {
                id: format!("sha256:{id}"),
                names: names.clone(),
                size: dir_size(&rootfs),
                rootfs,
                config: image_config,
            },
        )?;
        Ok(names)
    }
}

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Unpacks one layer (gzip or plain tar) over `rootfs`, honouring OCI
/// whiteouts: `.wh.NAME` deletes NAME from the layers below, and
/// `.wh..wh..opq` empties the directory it is in.
fn apply_layer(layer: &Path, rootfs: &Path) -> Result<()> {
    let mut f = std::fs::File::open(layer)?;
    let mut magic = [0u8; 2];
    let gz = f.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
    let f = std::fs::File::open(layer)?;
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let parent = rootfs.join(path.parent().unwrap_or(Path::new("")));
        if file_name == ".wh..wh..opq" {
            if let Ok(rd) = std::fs::read_dir(&parent) {
                for e in rd.flatten() {
                    let _ = remove_any(&e.path());
                }
            }
            continue;
        }
        if let Some(hidden) = file_name.strip_prefix(".wh.") {
            let _ = remove_any(&parent.join(hidden));
            continue;
        }
        entry.unpack_in(rootfs)?;
    }
    Ok(())
}

fn remove_any(p: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) => Err(e),
    }
}

/// The shared libraries a dynamically linked program needs, as `ldd` lists them.
fn shared_libraries(exe: &Path) -> Vec<String> {
    let Ok(out) = std::process::Command::new("ldd").arg(exe).output() else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let path = match l.split_once("=>") {
                Some((_, rhs)) => rhs.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| path.to_string())
        })
        .collect()
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                match e.metadata() {
                    Ok(m) if m.is_dir() => stack.push(e.path()),
                    Ok(m) if m.is_file() => total += m.len(),
                    _ => {}
                }
            }
        }
    }
    total
}

/// A stable hex fingerprint (FNV-1a 64, twice with different seeds), for
/// ids of things we make ourselves; loaded images keep their real digests
/// in the archive, this only names the folder.
fn fingerprint(parts: &[&[u8]]) -> String {
    let hash = |seed: u64| {
        let mut h = seed;
        for p in parts {
            for b in *p {
                h ^= *b as u64;
                h = h.wrapping_mul(0x100000001b3);
            }
        }
        h
    };
    format!(
        "{:016x}{:016x}{:016x}{:016x}",
        hash(0xcbf29ce484222325),
        hash(0x84222325cbf29ce4),
        hash(0x1234567890abcdef),
        hash(0xfedcba0987654321)
    )
}

fn tempdir_in(root: &Path) -> Result<PathBuf> {
    let p = root.join(format!("load-{}", crate::new_id()));
    std::fs::create_dir_all(&p)?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalise_as_upstream() {
        assert_eq!(normalize("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(normalize("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(normalize("kubelab/web:1.0"), "docker.io/kubelab/web:1.0");
        assert_eq!(normalize("ghcr.io/a/b"), "ghcr.io/a/b:latest");
        assert_eq!(normalize("localhost:5000/app:v2"), "localhost:5000/app:v2");
        assert_eq!(normalize("localhost/app"), "localhost/app:latest");
        assert_eq!(
            normalize("busybox@sha256:abc"),
            "docker.io/library/busybox@sha256:abc"
        );
        assert_eq!(
            familiar("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        assert_eq!(familiar("docker.io/kubelab/web:1.0"), "kubelab/web:1.0");
    }

    #[test]
    fn a_missing_image_says_how_to_load_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let err = store.resolve("nginx").unwrap_err().to_string();
        assert!(err.contains("\"nginx:latest\" is not present"), "{err}");
        assert!(err.contains("kubelab image load"), "{err}");
    }

    #[test]
    fn whiteouts_delete_files_and_opaque_dirs_empty_them() {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc/conf.d")).unwrap();
        std::fs::write(rootfs.join("etc/old"), "x").unwrap();
        std::fs::write(rootfs.join("etc/conf.d/a"), "x").unwrap();
        // A layer that whites out etc/old and makes etc/conf.d opaque.
        let layer = dir.path().join("layer.tar");
        let mut b = tar::Builder::new(std::fs::File::create(&layer).unwrap());
        for (path, data) in [
            ("etc/.wh.old", ""),
            ("etc/conf.d/.wh..wh..opq", ""),
            ("etc/conf.d/b", "new"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, data.as_bytes()).unwrap();
        }
        b.finish().unwrap();
        drop(b);
        apply_layer(&layer, &rootfs).unwrap();
        assert!(!rootfs.join("etc/old").exists());
        assert!(!rootfs.join("etc/conf.d/a").exists());
        assert_eq!(
            std::fs::read_to_string(rootfs.join("etc/conf.d/b")).unwrap(),
            "new"
        );
    }
}
