{{ config(materialized='table') }}
select o.order_id, l.label
from {{ ref('stg_orders') }} as o
join {{ ref('status_labels') }} as l on l.status = o.status
