//! The images clubhost deployed: each reference a deploy used, with the image id it named then.
//! `clubhost gc --images` prunes only from this list, so an image clubhost never deployed is never
//! considered.

use serde::Serialize;
use sqlx::FromRow;

use super::{Registry, Result, audit, now};

/// One image reference a deploy used.
#[derive(Debug, Clone, Serialize, FromRow)]
pub struct DeployedImage {
    /// The reference as the stack names it ("nginx:1.25").
    pub image: String,
    /// The image id it named at that deploy; a reference that names another image now is left
    /// alone (someone re-tagged or pulled it since).
    pub image_id: String,
    /// The project that deployed it last.
    pub project: String,
    pub deployed_at: i64,
}

impl Registry {
    /// Records (or refreshes) the images a deploy of `project` used, as (reference, image id).
    pub async fn record_images(&self, project: &str, images: &[(String, String)]) -> Result<()> {
        let mut tx = self.write().await?;
        for (image, id) in images {
            sqlx::query(
                "INSERT INTO deployed_images (image, image_id, project, deployed_at) \
                 VALUES (?, ?, ?, ?) ON CONFLICT (image) DO UPDATE SET \
                 image_id = excluded.image_id, project = excluded.project, \
                 deployed_at = excluded.deployed_at",
            )
            .bind(image)
            .bind(id)
            .bind(project)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn deployed_images(&self) -> Result<Vec<DeployedImage>> {
        Ok(sqlx::query_as::<_, DeployedImage>(
            "SELECT image, image_id, project, deployed_at FROM deployed_images ORDER BY image",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Forgets images that are gone from Docker or no longer clubhost's (`gc --images`), and
    /// audits what was removed.
    pub async fn forget_images(&self, images: &[String], actor: &str, removed: &str) -> Result<()> {
        let mut tx = self.write().await?;
        for image in images {
            sqlx::query("DELETE FROM deployed_images WHERE image = ?")
                .bind(image)
                .execute(&mut *tx)
                .await?;
        }
        if !removed.is_empty() {
            audit(
                &mut tx,
                actor,
                None,
                "gc.remove_images",
                None,
                None,
                removed,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
